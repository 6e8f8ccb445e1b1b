"""``RecordingResponder``: wrap any responder and write what was answered as a replayable script.

Secrets are never recorded: a passphrase becomes a reference ``env:PASSPHRASE_<NAME>`` (listed in
``[passphrases]``), a share typed at quorum entry becomes ``env:SHARE_<n>``, the SLIP-39
passphrase ``env:SLIP39_PASSPHRASE``; share reveals and verify-backs are left to the script
defaults (the replay reads ``share_dir``). The person replaying sets those variables.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from vault.ceremony.events import Event
from vault.ceremony.prompts import (
    AbortAnswer,
    Answer,
    AttestationAnswer,
    BackAnswer,
    CancelAnswer,
    ChoiceAnswer,
    ConfirmAnswer,
    PassphrasePrompt,
    Prompt,
    ResetAnswer,
    ReviewAnswer,
    SecretAnswer,
    ShareAnswer,
    ShareEntryPrompt,
    ShareReadyPrompt,
    ShareRevealPrompt,
    ShareVerifyPrompt,
    TextAnswer,
    WitnessAnswer,
)


def _env_name(text: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "_", text.upper()).strip("_")


class RecordingResponder:
    def __init__(self, inner, *, ceremony: str, share_dir: str = "shares") -> None:
        self.inner = inner
        self.ceremony = ceremony
        self.share_dir = share_dir
        self.answers: dict[str, list[Any]] = {}
        self.passphrases: dict[str, str] = {}
        self._shares = 0
        # pin_policy "hsm-procedure": the HSM user PIN typed at a login (asked outside the prompts, by the
        # front end's PIN source) becomes this reference; set by the front end when the PIN was asked
        self.hsm_pin: str | None = None

    def on_event(self, event: Event) -> None:
        self.inner.on_event(event)

    def answer(self, prompt: Prompt) -> Answer:
        answer = self.inner.answer(prompt)
        value = self._value(prompt, answer)
        if value is not None:
            self.answers.setdefault(f"{prompt.step_id}.{prompt.ask}", []).append(value)
        return answer

    def _value(self, prompt: Prompt, a: Answer) -> Any:
        if isinstance(prompt, (ShareReadyPrompt, ShareRevealPrompt, ShareVerifyPrompt)) and not isinstance(a, AbortAnswer):
            return None  # the replay's defaults (share_dir)
        if isinstance(a, AbortAnswer):
            return {"abort": a.reason}
        if isinstance(a, ConfirmAnswer):
            return a.yes
        if isinstance(a, (TextAnswer,)):
            return a.text
        if isinstance(a, ChoiceAnswer):
            return a.value
        if isinstance(a, ResetAnswer):
            return {"action": "reset"}
        if isinstance(a, CancelAnswer):
            return {"action": "cancel"}
        if isinstance(a, BackAnswer):
            return {"action": "back"}
        if isinstance(a, ReviewAnswer):
            return a.administrator and a.witness
        if isinstance(a, ShareAnswer) and isinstance(prompt, ShareEntryPrompt):
            self._shares += 1
            return {"share": f"env:SHARE_{self._shares}"}
        if isinstance(a, SecretAnswer) and isinstance(prompt, PassphrasePrompt):
            if prompt.ask.startswith("slip39"):
                return {"secret": "env:SLIP39_PASSPHRASE"}
            self.passphrases[prompt.custodian] = f"env:PASSPHRASE_{_env_name(prompt.custodian)}"
            return None
        if isinstance(a, WitnessAnswer):
            if a.deviation is not None:
                d = a.deviation
                return {"deviation": {"expected": d.expected, "happened": d.happened, "action": d.action,
                                      "decided_by": d.decided_by}}
            return {"confirmed": a.confirmed}
        if isinstance(a, AttestationAnswer):
            name = getattr(prompt, "participant", "")
            self.passphrases.setdefault(name, f"env:PASSPHRASE_{_env_name(name)}")
            return {"agree": a.agree, "comment": a.comment}
        return {"abort": "unrecordable answer"}

    def script_text(self) -> str:
        q = json.dumps  # a JSON string is a valid TOML basic string
        lines = ["# Recorded ceremony script. Secrets are references: set the variables named below.",
                 "format = 1", f"ceremony = {q(self.ceremony)}", f"share_dir = {q(self.share_dir)}"]
        if self.hsm_pin is not None:
            lines.append(f"hsm_pin = {q(self.hsm_pin)}")
        lines += ["", "[passphrases]"]
        lines += [f"{q(n)} = {q(r)}" for n, r in sorted(self.passphrases.items())]
        lines += ["", "[answers]"]
        for key, values in self.answers.items():
            lines.append(f"{q(key)} = [{', '.join(_toml(v) for v in values)}]")
        return "\n".join(lines) + "\n"

    def save(self, path: Path) -> Path:
        """Write the script once (never overwrite)."""
        from vault.backup.outfile import write_new_file

        return write_new_file(Path(path), self.script_text().encode("utf-8"))


def _toml(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml(x)}" for k, x in v.items()) + " }"
    raise TypeError(type(v).__name__)
