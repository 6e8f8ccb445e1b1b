"""``doctor``: every health check of a vault in one UI-free report.

Checks, each a ``Finding`` with a severity and a next step:

* the token: reachable through the configured module, and its info;
* the capability probe: the last one a ceremony recorded (probing needs a logged-in session,
  which needs a quorum; see ``record_capabilities``);
* the database: ``PRAGMA integrity_check`` and ``foreign_key_check``;
* the ledger: the whole hash chain;
* the air gap (an error in production, a note in practice);
* the token against the database, as far as a session without login can see: the public
  halves of key pairs. Secret keys and private halves are invisible without a quorum; every
  ceremony start reconciles those in its logged-in session;
* unfinished ceremonies, and when the next restore drill is due.

The CLI renders it as text or JSON; the TUI's dashboard shows the same findings.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from vault.environment import airgap_report
from vault.errors import VaultError
from vault.types import KeyAlgorithm, KeyState, Mode

CAPABILITIES_SETTING = "hsm.capabilities"
#: Keys whose objects are gone from the token on purpose (their tombstones stay in the database).
DESTROYED = frozenset({KeyState.DESTROYED, KeyState.DESTROYED_COMPROMISED})
OK, NOTE, WARNING, ERROR = "ok", "note", "warning", "error"


@dataclass(frozen=True, slots=True)
class Finding:
    severity: str  # ok | note | warning | error
    area: str
    message: str
    next_step: str = ""


@dataclass(frozen=True, slots=True)
class DoctorReport:
    home: str
    mode: str
    module: str
    token_selector: str
    token: dict[str, Any] | None
    capabilities: dict[str, Any] | None
    ledger: dict[str, Any]
    airgap: dict[str, Any]
    drill: dict[str, Any]
    findings: tuple[Finding, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not any(f.severity == ERROR for f in self.findings)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity in (WARNING, ERROR))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data

    def render_text(self) -> str:
        marks = {OK: "ok  ", NOTE: "note", WARNING: "WARN", ERROR: "FAIL"}
        lines = [
            f"custodian doctor — {self.mode.upper()} home {self.home}",
            f"module {self.module}; token {self.token_selector}",
            "",
        ]
        for f in self.findings:
            lines.append(f"[{marks[f.severity]}] {f.area}: {f.message}")
            if f.next_step and f.severity in (WARNING, ERROR):
                lines.append(f"       next: {f.next_step}")
        lines += ["", "result: " + ("healthy" if self.ok else "PROBLEMS FOUND")]
        return "\n".join(lines)


def token_next_step(vault, exc: VaultError) -> str:
    """What to do when the token cannot be found: a new practice vault simply has none yet."""
    if exc.code == "HSM_NO_TOKEN" and vault.mode is Mode.PRACTICE and vault.store.active_share_set() is None:
        return "Run the init ceremony: it initialises the practice token."
    return exc.next_step


def token_profile(vault, info):
    """The HSM profile for the vault's token: custodian.toml's choice and overrides, else by
    manufacturer and model (vault/hsm/profiles)."""
    from vault.hsm.profile import profile_for

    config = vault.home.config
    return profile_for(info, name=config.profile, overrides=dict(config.profile_override))


def record_capabilities(vault, capabilities) -> None:
    """Keep the latest probe result (non-secret) so doctor can show it without a quorum."""
    data = {
        "probed_at": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "wrap_mechanism": capabilities.wrap_mechanism.name,
        "self_test_ok": capabilities.self_test_ok,
        "self_test_error": capabilities.self_test_error,
        "token_model": capabilities.token_model,
        "check_value": capabilities.check_value,
        "wrap_mechanisms_offered": [m.name for m in capabilities.wrap_mechanisms_offered],
        "protected_authentication_path": capabilities.protected_authentication_path,
        "algorithms": {
            c.algorithm.value: {"generate": c.generate, "sign": c.sign, "wrap": c.wrap, "unwrap": c.unwrap, "note": c.note}
            for c in capabilities.algorithms
        },
    }
    vault.store.set_setting(CAPABILITIES_SETTING, json.dumps(data, sort_keys=True))


def recorded_capabilities(vault) -> dict[str, Any] | None:
    raw = vault.store.get_setting(CAPABILITIES_SETTING)
    return json.loads(raw) if raw else None


def run_doctor(vault, *, airgap_root=None, now: datetime | None = None) -> DoctorReport:
    findings: list[Finding] = []
    add = lambda *a: findings.append(Finding(*a))  # noqa: E731

    if vault.mode is Mode.PRACTICE:
        add(NOTE, "mode", "PRACTICE vault: a software token under the home; nothing here protects real keys.")

    # -- token ------------------------------------------------------------------------------
    token = None
    module = None
    try:
        module = vault.hsm()
        info = module.find_token(vault.token)
        token = asdict(info)
        add(OK, "token", f"{info.describe()}, firmware {info.firmware}; slot {info.slot_id}; "
                         f"PINs {info.min_pin_len}-{info.max_pin_len} characters"
                         + ("; protected authentication path (PIN entry on the HSM)" if info.protected_authentication_path else ""))
        from vault.operations.pin_policy import refusal as pin_policy_refusal

        refused = pin_policy_refusal(vault, info)
        if refused is not None:
            add(WARNING if info.protected_authentication_path else ERROR, "pin policy", refused.message,
                refused.next_step)  # fmt: skip
        profile = token_profile(vault, info)
        token["profile"] = profile.to_dict()
        add(OK if profile.tested_here else NOTE, "profile", profile.describe())
        for note in profile.notes:
            add(NOTE, "profile", note)
        from vault.operations.drill_place import doctor_finding as drill_finding
        from vault.operations.trusted_policy import doctor_findings as trusted_findings

        for severity, area, message, next_step in [*trusted_findings(vault, info), drill_finding(vault)]:
            add({"ok": OK, "note": NOTE, "warning": WARNING}[severity], area, message, next_step)
    except VaultError as exc:
        add(ERROR if vault.store.active_share_set() else WARNING, "token", exc.message, token_next_step(vault, exc))

    # -- capabilities -------------------------------------------------------------------------
    capabilities = recorded_capabilities(vault)
    if capabilities is None:
        add(NOTE, "capabilities", "Not probed yet: the first ceremony that opens the token probes it.")
    else:
        algos = capabilities["algorithms"]
        can_backup = [a for a, c in algos.items() if c["generate"] and c["wrap"] and c["unwrap"]]
        no_backup = [a for a, c in algos.items() if c["generate"] and not (c["wrap"] and c["unwrap"])]
        msg = f"probed {capabilities['probed_at']}: generate+backup {', '.join(can_backup) or 'none'}"
        if no_backup:
            msg += f"; generate only (no backup) {', '.join(no_backup)}"
        add(OK, "capabilities", msg)
        generate_only = [a for a, c in algos.items() if not c["generate"]]
        if generate_only:
            add(NOTE, "capabilities", f"not generated by this token: {', '.join(generate_only)}")
        offered = capabilities.get("wrap_mechanisms_offered")
        if offered is not None:
            add(NOTE, "capabilities", f"wrap mechanisms offered: {', '.join(offered) or 'none'}; in use "
                f"{capabilities['wrap_mechanism']}; CKA_CHECK_VALUE "
                f"{'set by the token' if capabilities.get('check_value') else 'absent (KCV computed with the key)'}")
        if not capabilities["self_test_ok"]:
            add(ERROR, "capabilities", f"wrap mechanism self-test failed: {capabilities['self_test_error']}",
                "Configure a wrap mechanism this token implements as RFC 5649.")

    # -- database and ledger --------------------------------------------------------------------
    problems = vault.store.integrity_check()
    if problems:
        add(ERROR, "database", "; ".join(problems[:5]), "Restore the database from the last good copy; keep this one for the auditors.")
    else:
        add(OK, "database", f"integrity and foreign keys ok (schema v{vault.store.schema_version})")
    from vault import ledger_anchors
    from vault.ledger import pgp_words

    anchored = ledger_anchors.check(vault, from_checkpoint=True)  # incremental: from the last verified checkpoint
    report = anchored.chain
    ledger = {"ok": anchored.ok, "count": report.count, "first_bad_seq": report.first_bad_seq,
              "problem": report.problem, "anchor_problems": anchored.problems, "signed_heads": anchored.signed,
              "verified_from": anchored.start_seq, "unproven": anchored.unproven,
              "hsm_signed_heads": anchored.hsm_signed,
              "head": report.head.hash_hex if report.head else None,
              "head_words": pgp_words(report.head.hash_hex) if report.head and report.head.hash_hex else None}
    if anchored.ok:
        last = f"; last signed head at event {anchored.last_signed.seq}" if anchored.last_signed else ""
        add(OK, "ledger", f"{report.count} events, chain intact{last}; head {ledger['head'][:16]}…")
    elif not report.ok:
        add(ERROR, "ledger", f"chain broken at event #{report.first_bad_seq}: {report.problem}",
            "Stop; compare with the last printed head hash and report to the auditors.")
    else:
        add(ERROR, "ledger", f"signed heads do not match the ledger: {anchored.problems[0]}"
            + (f" (and {len(anchored.problems) - 1} more)" if len(anchored.problems) > 1 else ""),
            "Stop; run `custodian ledger verify --full` and report to the auditors.")

    # -- air gap -------------------------------------------------------------------------------
    air = airgap_report() if airgap_root is None else airgap_report(airgap_root)
    if air.ok:
        add(OK, "air gap", "no network interface up, no default route, no radio")
    else:
        severity = ERROR if vault.mode is Mode.PRODUCTION else NOTE
        for problem in air.problems():
            add(severity, "air gap", problem, "Disconnect it before a production ceremony.")

    # -- token against database (public view) -------------------------------------------------
    if module is not None and token is not None:
        findings.extend(_public_reconcile(vault, module, token["serial"]))

    # -- ceremonies and drills -------------------------------------------------------------------
    from vault.lock import current_holder

    holder = current_holder(vault.home.path)
    live = holder.ceremony_id if holder is not None else None
    if holder is not None:
        add(NOTE, "lock", f"the home is in use by {holder.describe()}",
            "A live process is changing this home: let it finish; read-only commands still work.")
    for c in vault.store.unfinished_ceremonies():
        if c.id == live:
            add(NOTE, "ceremony", f"{c.definition_name} ({c.id}) is live: running in pid {holder.pid} on host "
                f"{holder.host} since {holder.since}", "Let it finish; it is not a crashed ceremony.")
            continue
        add(WARNING, "ceremony", f"{c.definition_name} ({c.id}) started {c.started_at} stopped without finishing "
            "(crashed or killed)",
            f"`custodian ceremony unfinished` says where it stopped; then `custodian ceremony resume {c.id} --script "
            f"FILE` or `custodian ceremony abort {c.id} --reason TEXT` (or open the console).")
    if vault.store.get_setting("token.pins") == "transient":  # see vault.operations.token
        add(WARNING, "token", "an init did not finish: the token has transient PINs that only that init knew",
            "Abort the unfinished init; in practice the next init re-initialises the token, in production reset "
            "it with the HSM vendor's tools first.")
    if vault.store.get_setting("reshare.pending"):  # see vault.operations.reshare
        add(WARNING, "quorum", "a reshare was interrupted while switching the token's PINs",
            "Activate the quorum once (any ceremony): the shares of either set are accepted and the token decides.")
    from vault.expiry import expiry_notices

    for notice in expiry_notices(vault.store, now):  # cryptoperiods: 90 and 30 days ahead, and past
        if notice.level == "expired":
            add(WARNING, "expired key", notice.message(),
                "It protects nothing new: rotate it (rotate ceremony) or deactivate it (deactivate ceremony).")
        else:
            add(WARNING, "key expiry", notice.message(),
                "Plan a rotate ceremony before that date.")
    findings.extend(_definition_findings(vault))
    from vault.backup.outfile import pending_outputs

    for p in pending_outputs(vault.home.pending_outputs_dir):
        add(WARNING, "outputs", f"an interrupted write left the partial file {p.partial} (for {p.target}, "
            f"started {p.started_at})", f"The next write of {p.target} removes it; or delete it by hand.")
    from vault.operations.drill import next_drill_due

    schedule = next_drill_due(vault)
    drill = asdict(schedule)
    if schedule.due_at is None:
        add(NOTE, "drill", "no backup yet, so no restore drill is due")
    elif schedule.overdue and schedule.missing:
        add(WARNING, "drill", f"no drill holds the current key set: the last drill's bundle lacks "
            f"{len(schedule.missing)} current key(s) ({', '.join(schedule.missing[:5])})",
            "Run the backup ceremony, then the drill ceremony on the new bundle.")
    elif schedule.overdue:
        add(WARNING, "drill", f"restore drill due since {_minutes(schedule.due_at)}", "Run the drill ceremony.")
    else:
        add(OK, "drill", f"next restore drill due {_minutes(schedule.due_at)}")

    return DoctorReport(
        home=str(vault.home.path),
        mode=vault.mode.value,
        module=vault.home.config.module,
        token_selector=vault.token,
        token=token,
        capabilities=capabilities,
        ledger=ledger,
        airgap=air.to_dict(),
        drill=drill,
        findings=tuple(findings),
    )


def _definition_findings(vault) -> list[Finding]:
    """The home's own ceremony definitions that cannot be used (each blocks only itself)."""
    from vault.ceremony.definitions import load_catalogue_report

    try:
        report = load_catalogue_report(vault.home.path)
    except VaultError as exc:  # a built-in definition is broken: the installation is damaged
        return [Finding(ERROR, "definitions", exc.message, "Reinstall the console; a built-in definition is damaged.")]
    out = [Finding(WARNING, "definitions", f"{b.path.name} cannot be used: {b.error.message}", b.error.next_step)
           for b in report.broken]
    if not out:
        out.append(Finding(OK, "definitions", f"{len(report.definitions)} ceremonies "
                           f"({sum(not d.builtin for d in report.definitions.values())} of your own)"))
    return out


def _minutes(stamp: str) -> str:
    """A UTC ISO stamp as people read it aloud: to the minute."""
    return datetime.fromisoformat(stamp).strftime("%Y-%m-%d %H:%MZ")


def _public_reconcile(vault, module, serial: str) -> list[Finding]:
    """Compare what a session without login sees (public halves) with the database."""
    try:
        session = module.open_public_session(vault.token)
    except VaultError as exc:
        return [Finding(WARNING, "token objects", f"could not list public objects: {exc.message}", exc.next_step)]
    try:
        visible = {(k.label, k.key_id): k for k in session.list_keys()}
    finally:
        session.close()
    records = [r for r in vault.store.list_keys() if r.token_serial == serial]
    live_pairs = [r for r in records if KeyAlgorithm(r.algorithm).is_key_pair and r.state not in DESTROYED]
    known = {(r.label, r.cka_id) for r in records}
    out = []
    unknown = [k for ident, k in visible.items() if ident not in known]
    missing = [r for r in live_pairs if (r.label, r.cka_id) not in visible]
    mismatch = [r for r in live_pairs if (r.label, r.cka_id) in visible
                and visible[(r.label, r.cka_id)].fingerprint not in ("", r.fingerprint)]
    for k in unknown:
        out.append(Finding(WARNING, "token objects", f"'{k.label}' (id {k.key_id}) is on the token but not in the database",
                           "Investigate; the console never deletes it on its own."))
    for r in missing:
        out.append(Finding(ERROR, "token objects", f"key '{r.label}' v{r.version} is recorded but its public half is missing from the token",
                           "Restore it from the latest backup, or record what happened."))
    resurrected = [r for r in records if KeyAlgorithm(r.algorithm).is_key_pair and r.state in DESTROYED
                   and (r.label, r.cka_id) in visible]
    for r in resurrected:
        out.append(Finding(ERROR, "token objects", f"key '{r.label}' v{r.version} is recorded as {r.state.value} but "
                           "its public half is still on the token",
                           "Stop; investigate how it came back and destroy it again in a destroy ceremony."))
    for r in mismatch:
        out.append(Finding(ERROR, "token objects", f"key '{r.label}' on the token has another fingerprint than recorded",
                           "Stop; treat the key as suspect and start the compromise ceremony if confirmed."))
    if not (unknown or missing or mismatch or resurrected):
        out.append(Finding(OK, "token objects", f"{len(live_pairs)} key pairs match the database (public halves; "
                           "secret keys are checked at every ceremony start with a quorum)"))
    return out
