"""PRACTICE example people, so a newcomer can play every role alone.

These passphrases are printed on the screen on purpose: they protect nothing. They are offered
only in a practice home (``ctrl+f`` fills the practice value into the field being asked).
"""

from __future__ import annotations

PRACTICE_PEOPLE: dict[str, str] = {
    "alice": "practice-alice-passphrase",
    "bob": "practice-bob-passphrase",
    "carol": "practice-carol-passphrase",
    "dave": "practice-dave-passphrase",
    "wendy": "practice-wendy-passphrase",  # the witness
    "admin": "practice-admin-passphrase",  # the ceremony administrator
}
PRACTICE_SLIP39_PASSPHRASE = "practice-quorum-passphrase"


def practice_passphrase(custodian: str, purpose: str = "") -> str:
    if "slip" in purpose.lower() or "quorum" in purpose.lower():
        return PRACTICE_SLIP39_PASSPHRASE
    return PRACTICE_PEOPLE.get(custodian.lower(), f"practice-{custodian.lower()}-passphrase")


def practice_sheet() -> str:
    rows = "\n".join(f"  {name:<7} {pp}" for name, pp in PRACTICE_PEOPLE.items())
    return ("PRACTICE people: play every role yourself. These passphrases protect nothing.\n" + rows +
            f"\n  SLIP-39 passphrase (if the policy asks for one): {PRACTICE_SLIP39_PASSPHRASE}\n"
            "In any field that asks for a name or passphrase, ctrl+f fills the practice value.")


PRACTICE_CUSTODIANS = ("alice", "bob", "carol", "dave")


def practice_text(ask: str, question: str) -> str | None:
    """A practice answer for a text question (names, the policy), or None."""
    q = question.lower()
    if ask.startswith("name"):
        if "administrator" in q:
            return "admin"
        if "witness" in q:
            return "wendy"
        if "custodian" in q:
            n = int(ask.split(":", 1)[1]) if ":" in ask and ask.split(":", 1)[1].isdigit() else 1
            return PRACTICE_CUSTODIANS[(n - 1) % len(PRACTICE_CUSTODIANS)]
    if ask == "policy":
        return "2-of-3"
    if ask == "label":
        return "practice-key-1"
    return None
