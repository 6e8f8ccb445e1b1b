"""The paper script of a ceremony, for the binder: numbered steps, what to read aloud, columns
for initials and time, and signature lines. Plain text (renders as Markdown too)."""

from __future__ import annotations

import textwrap

from vault.ceremony.definitions import CeremonyDefinition
from vault.ceremony.kinds import registry


def paper_script(d: CeremonyDefinition) -> str:
    import hashlib

    from vault.runtime_identity import package_identity, words_of

    kinds = registry()
    definition = hashlib.sha256(d.source.read_bytes()).hexdigest()
    ident = package_identity()
    out = [f"# Ceremony script: {d.title} ({d.name})", "", textwrap.fill(d.purpose, 96), "",
           "What runs (read aloud at the start; compare with the console's start screen and the transcript):", "",
           f"- Definition SHA-256: {definition}", f"  {words_of(definition)}",
           f"- Console version {ident.version}; installed files SHA-256 ({ident.files} files): {ident.sha256}",
           f"  {ident.words}", "",
           f"Roles: {', '.join(r.value for r in d.roles)}    Quorum: {d.quorum.value}"
           + (f"    Preconditions: {', '.join(d.preconditions)}" if d.preconditions else ""),
           "Ceremony id: ____________________    Date: ____________    Location: ____________", "",
           "| # | step | read aloud / do | witness | initials | time |", "|---|---|---|---|---|---|"]
    for s in d.steps:
        doing = s.read_aloud or kinds[s.kind].doc.splitlines()[0] if (s.read_aloud or kinds[s.kind].doc) else ""
        items = s.params.get("items") if s.kind == "checklist" else None
        if items:
            doing += " " + " ".join(f"[ ] {i}" for i in items)
        if kinds[s.kind].review:
            doing += (f" REVIEW before the HSM acts: {kinds[s.kind].review}; the administrator reads it aloud, "
                      "administrator and witness confirm [ ] [ ]")
        out.append(f"| {s.index} | {s.title} | {doing.replace('|', '/')} | {'yes' if s.witness else ''} | ____ | ____ |")
    out += _profiles(d)
    out += ["", "Deviations (expected / happened / action / decided by):", "", "_" * 96, "", "_" * 96, "",
            "Signatures:", "", "Ceremony administrator: ______________________  Witness: ______________________", "",
            "Custodians: ______________________  ______________________  ______________________", ""]
    return "\n".join(out)


def _profiles(d: CeremonyDefinition) -> list[str]:
    """Every certificate profile a step names, printed whole with its SHA-256 (read aloud at review)."""
    from vault.errors import VaultError
    from vault.pki.profile import load_profile

    out: list[str] = []
    for s in d.steps:
        name = s.params.get("profile")
        if not isinstance(name, str):
            continue
        try:
            profile = load_profile(name, d.source.parent.parent if not d.builtin else None)
        except VaultError as exc:
            out += ["", f"Profile {name} of step {s.index}: cannot be read: {exc.message}"]
            continue
        out += ["", f"Profile {profile.name} (step {s.index}), SHA-256 {profile.sha256}", "",
                "```toml", profile.text.rstrip("\n"), "```"]
    return out
