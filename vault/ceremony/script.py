"""Ceremony scripts: headless runs (``custodian ceremony run NAME --script FILE``) and replays.

A script is a TOML file (format documented in ceremonies/README.md). Answers are addressed by
``"<step id>.<ask>"`` (the prompt's ``step_id`` and ``ask``); a list answers repeated prompts in
order. Secrets never appear in a script, only references: ``env:NAME`` (an environment
variable) or ``file:PATH`` (relative to the script's directory).

Without an explicit answer: ready gates and "recorded?" are confirmed; a share verify-back reads
the share the engine wrote to ``share_dir``; a passphrase prompt for a person uses
``[passphrases]`` (the witness's once-per-ceremony authentication too); checklists, witness
confirmations and attestations follow ``[defaults]``; reviews are confirmed unless
``[defaults] review = "ask"`` (the script is what the administrator and the witness agreed to).

A prompt repeated with an error (``error_code``) is a failure unless the script's list has a
further answer for it: the responder then aborts the ceremony with the error as the reason, and
``failure`` names the step, the code and the message.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vault.ceremony.definitions import CeremonyDefinition, _line_map, _locate, read_toml_text
from vault.ceremony.events import Event
from vault.ceremony.prompts import (
    AbortAnswer,
    Answer,
    AttestationAnswer,
    AttestationPrompt,
    BackAnswer,
    CancelAnswer,
    ChecklistPrompt,
    ChoiceAnswer,
    ChoicePrompt,
    ConfirmAnswer,
    Deviation,
    PassphrasePrompt,
    PathPrompt,
    Prompt,
    ResetAnswer,
    ReviewAnswer,
    ReviewPrompt,
    SecretAnswer,
    ShareAnswer,
    ShareEntryPrompt,
    ShareReadyPrompt,
    ShareRevealPrompt,
    ShareVerifyPrompt,
    TextAnswer,
    VerifyMode,
    WitnessAnswer,
    WitnessPrompt,
)
from vault.backup.outfile import absolute
from vault.errors import ScriptInvalid
from vault.inputs import SECRET_FILE_BYTES, read_bounded
from vault.secret import Secret

FORMAT = 1
_TOP = {"format": int, "ceremony": str, "share_dir": str, "verify": str, "airgap_override": str,
        "defaults": dict, "passphrases": dict, "answers": dict, "unfinished": dict, "hsm_pin": str}
_DEFAULTS = {"checklists": ("ask", "confirm"), "witness": ("ask", "confirm"), "attest": ("ask", "agree"),
             "review": ("ask", "confirm")}


@dataclass(frozen=True, slots=True)
class Failure:
    step_index: int
    step_id: str
    code: str
    message: str

    def one_line(self) -> str:
        return f"step {self.step_index} '{self.step_id}': {self.code}: {self.message}".replace("\n", " ")


@dataclass(frozen=True)
class Script:
    path: Path
    ceremony: str
    share_dir: Path | None
    verify: str | None
    airgap_override: str | None
    defaults: dict[str, str]
    passphrases: dict[str, str]
    answers: dict[str, Any]
    unfinished: dict[str, Any] = field(default_factory=dict)  # {"resume": True} | {"abort": "reason"}
    hsm_pin: str | None = None  # pin_policy "hsm-procedure": the HSM user PIN by reference (env:/file:), never in clear

    @property
    def base(self) -> Path:
        return self.path.parent


def load_script(path: Path, definition: CeremonyDefinition | None = None) -> Script:
    path = Path(path)
    text = read_toml_text(path, ScriptInvalid)
    lines = _line_map(text)

    def fail(keypath: tuple, problem: str) -> ScriptInvalid:
        return ScriptInvalid(f"{path}:{_locate(lines, keypath)}: key '{'.'.join(map(str, keypath))}': {problem}.")

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScriptInvalid(f"{path}: not valid TOML: {exc}.") from None
    for key, value in data.items():
        if key not in _TOP:
            raise fail((key,), f"unknown key (allowed: {', '.join(sorted(_TOP))})")
        if not isinstance(value, _TOP[key]) or isinstance(value, bool) and _TOP[key] is int:
            raise fail((key,), f"must be {_TOP[key].__name__}")
    for key in ("format", "ceremony"):
        if key not in data:
            raise fail((key,), "missing")
    if data["format"] != FORMAT:
        raise fail(("format",), f"unsupported format (this console reads {FORMAT})")
    if definition is not None and data["ceremony"] != definition.name:
        raise fail(("ceremony",), f"this script is for {data['ceremony']!r}, not {definition.name!r}")
    defaults = data.get("defaults", {})
    for key, value in defaults.items():
        if key not in _DEFAULTS or value not in _DEFAULTS[key]:
            raise fail(("defaults", key), f"allowed: {', '.join(f'{k} = {v}' for k, v in _DEFAULTS.items())}")
    for name, ref in data.get("passphrases", {}).items():
        _check_ref(ref, lambda p: fail(("passphrases", name), p))
    answers = data.get("answers", {})
    step_ids = {s.id for s in definition.steps} if definition is not None else None
    for key in answers:
        step = key.split(".", 1)[0]
        if "." not in key or (step_ids is not None and step not in step_ids):
            raise fail(("answers",), f"answer key {key!r} must be '<step id>.<ask>' naming a step of the ceremony")
    verify = data.get("verify")
    if verify is not None and verify not in ("full", "quiz"):
        raise fail(("verify",), "must be full or quiz")
    unfinished = data.get("unfinished", {})
    if unfinished and not (set(unfinished) == {"resume"} and unfinished["resume"] is True
                           or set(unfinished) == {"abort"} and isinstance(unfinished["abort"], str)
                           and unfinished["abort"].strip()):
        raise fail(("unfinished",), 'must be `resume = true` or `abort = "reason"` (one of them)')
    if "hsm_pin" in data:
        _check_ref(data["hsm_pin"], lambda p: fail(("hsm_pin",), p))
    share_dir = data.get("share_dir")
    return Script(path=path, ceremony=data["ceremony"],
                  share_dir=absolute(path.parent / share_dir) if share_dir else None, verify=verify,
                  airgap_override=data.get("airgap_override"), defaults=dict(defaults),
                  passphrases=dict(data.get("passphrases", {})), answers=dict(answers), unfinished=dict(unfinished),
                  hsm_pin=data.get("hsm_pin"))


def _check_ref(ref: Any, fail) -> None:
    if not isinstance(ref, str) or not (ref.startswith("env:") or ref.startswith("file:")):
        raise fail("a secret is given only by reference: 'env:NAME' or 'file:PATH'")


def resolve_ref(ref: str, base: Path, kind: str) -> Secret:
    """Read a secret by reference; errors name the reference, never a value."""
    if ref.startswith("env:"):
        value = os.environ.get(ref[4:])
        if value is None:
            raise ScriptInvalid(f"The environment variable {ref[4:]} (for a {kind}) is not set.",
                                next_step="Set it before running the script.")
        return Secret(value, kind)
    if ref.startswith("file:"):
        p = (base / ref[5:]).expanduser()
        try:
            raw = read_bounded(p, SECRET_FILE_BYTES)
        except OSError as exc:
            raise ScriptInvalid(f"The {kind} file {p} ({ref}) cannot be read ({exc.strerror or exc}).",
                                next_step="Check the path in the script.") from None
        try:
            return Secret(raw.decode("utf-8").strip(), kind)
        except UnicodeDecodeError as exc:  # the message names the byte's place, never the content
            raise ScriptInvalid(f"The {kind} file {p} ({ref}) is not UTF-8 text (a byte at offset {exc.start} "
                                f"is not), so it cannot hold a {kind}.",
                                next_step=f"Write the {kind} into the file again as plain text.") from None
    raise ScriptInvalid(f"{ref!r} is not a reference ('env:NAME' or 'file:PATH').")


class ScriptResponder:
    """Answers prompts from a ``Script``; ``failure`` is set when the script cannot go on."""

    def __init__(self, script: Script, *, on_event=None) -> None:
        self.script = script
        self.failure: Failure | None = None
        self._used: dict[str, int] = {}
        self._on_event = on_event
        self._rejected: dict[str, list[tuple[str, str]]] = {}  # answer key -> (code, message) of each refused share

    def on_event(self, event: Event) -> None:
        if self._on_event is not None:
            self._on_event(event)

    def answer(self, prompt: Prompt) -> Answer:
        key = f"{prompt.step_id}.{prompt.ask}"
        entry = self.script.answers.get(key)
        is_list = isinstance(entry, list)
        if isinstance(prompt, ShareEntryPrompt) and (prompt.error_code or "").startswith("SHARE"):
            refused = self._refused_share(key, entry, prompt)
            if refused is not None and not (is_list and self._used.get(key, 0) < len(entry)):
                (code, first), others = self._rejected[key][0], self._rejected[key][1:]
                also = f" Also refused: {'; '.join(f'{c}: {m}' for c, m in others)}" if others else ""
                return self._fail(prompt, code, first + also)
        if prompt.error_code is not None and not (is_list and self._used.get(key, 0) < len(entry)):
            return self._fail(prompt, prompt.error_code, prompt.error_message or "")
        if is_list:
            i = self._used.get(key, 0)
            if i >= len(entry):
                if isinstance(prompt, ShareEntryPrompt):
                    rejected = self._rejected.get(key)
                    if rejected:  # the quorum is short because of a refused share: name it, not the count
                        (code, first), others = rejected[0], rejected[1:]
                        also = f" Also refused: {'; '.join(f'{c}: {m}' for c, m in others)}" if others else ""
                        return self._fail(prompt, code, f"{first} ({prompt.progress.describe()} accepted; the "
                                          f"script has no more shares for '{key}').{also}")
                    return self._fail(prompt, "QUORUM_INCOMPLETE",
                                      f"Not enough shares: {prompt.progress.describe()} entered, and the script "
                                      f"has no more for '{key}'. Next: Add the missing custodians' shares.")
                return self._fail(prompt, "SCRIPT", f"the script has no more answers for '{key}'.")
            self._used[key] = i + 1
            value = entry[i]
        else:
            value = entry
        try:
            if value is None:
                return self._default(prompt, key)
            return self._convert(prompt, key, value)
        except ScriptInvalid as exc:
            return self._fail(prompt, exc.code, str(exc))

    # -- internals ------------------------------------------------------------------------------
    def _refused_share(self, key: str, entry: Any, prompt: ShareEntryPrompt) -> str | None:
        """The share just refused, named by its place in the script and its reference (never its words)."""
        used = self._used.get(key, 0)
        if isinstance(entry, list):
            if used == 0:
                return None
            value, where = entry[used - 1], f"answer {used} of '{key}'"
        else:
            value, where = entry, f"'{key}'"
        ref = value.get("share") if isinstance(value, dict) else None
        if ref is None:
            return None
        text = f"The share {ref} ({where}) was refused: {prompt.error_message or ''}".strip()
        self._rejected.setdefault(key, []).append((prompt.error_code or "SHARE", text))
        return text

    def _fail(self, prompt: Prompt, code: str, message: str) -> AbortAnswer:
        self.failure = Failure(prompt.step_index, prompt.step_id, code, message)
        return AbortAnswer(f"script stopped: {code}: {message}")

    def _secret(self, ref: Any, key: str, kind: str) -> Secret:
        _check_ref(ref, lambda p: ScriptInvalid(f"answer '{key}': {p}."))
        return resolve_ref(ref, self.script.base, kind)

    def _default(self, prompt: Prompt, key: str) -> Answer:
        d = self.script.defaults
        if isinstance(prompt, (ShareReadyPrompt, ShareRevealPrompt)):
            return ConfirmAnswer(True)
        if isinstance(prompt, ShareVerifyPrompt):
            return self._verify_from_file(prompt)
        if isinstance(prompt, ChecklistPrompt) and d.get("checklists") == "confirm":
            return ConfirmAnswer(True)
        if isinstance(prompt, WitnessPrompt) and d.get("witness") == "confirm":
            return WitnessAnswer(True)
        if isinstance(prompt, ReviewPrompt) and d.get("review", "confirm") == "confirm":
            return ReviewAnswer(True, True)  # the script itself is what the administrator and witness agreed
        if isinstance(prompt, PassphrasePrompt) and prompt.custodian in self.script.passphrases:
            return SecretAnswer(self._secret(self.script.passphrases[prompt.custodian], key, "passphrase"))
        if isinstance(prompt, AttestationPrompt) and d.get("attest") == "agree" \
                and prompt.participant in self.script.passphrases:
            return AttestationAnswer(True, self._secret(self.script.passphrases[prompt.participant], key, "passphrase"))
        if isinstance(prompt, ChoicePrompt) and prompt.default is not None and False:
            return ChoiceAnswer(prompt.default)
        raise ScriptInvalid(f"The script has no answer for '{key}' ({prompt.KIND} question).",
                            next_step=f"Add \"{key}\" to [answers].")

    def _verify_from_file(self, prompt: ShareVerifyPrompt) -> Answer:
        if self.script.share_dir is None:
            raise ScriptInvalid("share_dir is not set, so the share cannot be verified back.")
        share = resolve_ref(f"file:{self.script.share_dir / (prompt.custodian + '.share')}", self.script.base, "share")
        if prompt.mode is VerifyMode.FULL:
            return ShareAnswer(share, prompt.custodian)
        try:
            words = share.reveal_text().split()
            return SecretAnswer(Secret(" ".join(words[p - 1] for p in prompt.positions), "quiz"))
        finally:
            share.wipe()

    def _convert(self, prompt: Prompt, key: str, value: Any) -> Answer:
        if isinstance(value, bool) and isinstance(prompt, ReviewPrompt):
            return ReviewAnswer(value, value)
        if isinstance(value, bool):
            return ConfirmAnswer(value)
        if isinstance(value, str):
            if isinstance(prompt, ChoicePrompt):
                return ChoiceAnswer(value)
            if isinstance(prompt, PathPrompt) and value.strip():
                return TextAnswer(str(absolute(self.script.base / value)) if not os.path.isabs(value) else value)
            return TextAnswer(value)
        if isinstance(value, int):
            return TextAnswer(str(value))
        if not isinstance(value, dict):
            raise ScriptInvalid(f"answer '{key}' has an unsupported type {type(value).__name__}.")
        if "abort" in value:
            return AbortAnswer(str(value["abort"]))
        if "action" in value:
            if value["action"] == "reset":
                return ResetAnswer()
            if value["action"] == "cancel":
                return CancelAnswer()
            if value["action"] == "back":
                return BackAnswer()
            raise ScriptInvalid(f"answer '{key}': action must be reset, cancel or back.")
        if "secret" in value:
            return SecretAnswer(self._secret(value["secret"], key, "secret"))
        if "share" in value:
            return ShareAnswer(self._secret(value["share"], key, "share"), value.get("custodian"))
        if "deviation" in value:
            d = value["deviation"]
            try:
                dev = Deviation(d["expected"], d["happened"], d["action"], d["decided_by"])
            except (KeyError, TypeError):
                raise ScriptInvalid(f"answer '{key}': a deviation has expected, happened, action, decided_by.") from None
            return WitnessAnswer(False, dev)
        if "confirmed" in value:
            return WitnessAnswer(bool(value["confirmed"]))
        if "agree" in value:
            ref = value.get("passphrase") or self.script.passphrases.get(getattr(prompt, "participant", ""))
            return AttestationAnswer(bool(value["agree"]), self._secret(ref, key, "passphrase"),
                                     str(value.get("comment", "")))
        raise ScriptInvalid(f"answer '{key}' is not understood.")


def script_options(script: Script, *, allow_production_share_export: bool = False, **extra):
    from vault.ceremony.context import RunOptions

    return RunOptions(script_driven=True, share_dir=script.share_dir,
                      allow_production_share_export=allow_production_share_export,
                      airgap_override_reason=script.airgap_override, verify_mode=script.verify or "full", **extra)


@dataclass(frozen=True, slots=True)
class ScriptRun:
    outcome: Any  # vault.ceremony.engine.Outcome
    failure: Failure | None
    events: tuple[Event, ...]

    @property
    def ok(self) -> bool:
        return self.outcome.ok

    def one_line(self) -> str:
        if self.ok:
            return self.outcome.one_line()
        if self.failure is not None:
            return f"ceremony {self.outcome.ceremony_id} aborted at {self.failure.one_line()}"
        return self.outcome.one_line()


def run_script(vault, script_path: Path, *, name: str | None = None, allow_production_share_export: bool = False,
               hook=None, on_event=None, clock=None, rng=None, **option_overrides) -> ScriptRun:
    """Load the definition and the script, run the ceremony to its end, and report."""
    from vault.ceremony.definitions import find_definition
    from vault.ceremony.engine import Engine
    from vault.ceremony.runner import drive

    definition = find_definition(name or load_script(Path(script_path)).ceremony, vault.home.path)
    script = load_script(Path(script_path), definition)
    from vault.ceremony.script_check import check_script

    checker = check_script(script, definition, vault)  # ScriptInvalid before anything is recorded
    option_overrides.setdefault("preflight", checker.before_irreversible)
    options = script_options(script, allow_production_share_export=allow_production_share_export, **option_overrides)
    kwargs = {k: v for k, v in (("clock", clock), ("rng", rng)) if v is not None}
    engine = Engine(vault, definition, options=options, hook=hook, **kwargs)
    events: list[Event] = []

    def collect(e: Event) -> None:
        events.append(e)
        if on_event is not None:
            on_event(e)

    responder = ScriptResponder(script, on_event=collect)
    from vault.operations.hsm_procedure import ReferencePinSource, pin_source_for_run

    # pin_policy "hsm-procedure": the PIN read at each login, for this ceremony only; a refusal is this run's
    source = ReferencePinSource(script.base, script.hsm_pin) if script.hsm_pin is not None else None
    with pin_source_for_run(vault, source):
        outcome = drive(engine, responder)
    return ScriptRun(outcome, responder.failure, tuple(events))
