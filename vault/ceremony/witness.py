"""The witness as evidence: authenticated once per ceremony run, then every act recorded.

The engine (vault.ceremony.engine) asks ``auth_prompt`` before the witness's first review or
sign-off of a run and checks the answer with ``authenticate``: the passphrase must open the
witness's enrolled signing key (vault.identity.unlock; the key is closed again at once). What is
recorded (ledger, actor = the witness):

* ``witness.authenticated`` — witness, fingerprint of their public key, the step it happened at;
* ``review.confirmed`` — the review the administrator and the witness confirmed (its items and
  SHA-256; vault.ceremony.review);
* ``ceremony.witnessed`` — per witnessed step: ``outcome`` ``confirmed`` (went as scripted) or
  ``deviation`` (then ``ceremony.deviation`` carries what was expected, what happened, the
  action and who decided), and the step's summary.

All of them come before the ceremony's closing head, which the witness signs in their closing
attestation: the hash chain binds them to that signature.
"""

from __future__ import annotations

from vault.ceremony.prompts import PassphrasePrompt
from vault.secret import Secret

PURPOSE = "to sign off as the witness, once for this ceremony"


def enrollment_of(record):
    """The vault.identity Enrollment of a stored custodian record."""
    from vault.identity import Enrollment, KdfParams

    key = record.encrypted_signing_key
    return Enrollment(name=record.name, role=record.role, public_key_pem=record.public_key_pem,
                      verifier=record.passphrase_verifier, kdf=KdfParams.from_dict(record.kdf_params),
                      encrypted_key=key if isinstance(key, str) else key.decode())


def auth_prompt(ctx, witness: str) -> PassphrasePrompt:
    return ctx.prompt(PassphrasePrompt, "witness-passphrase", custodian=witness, purpose=PURPOSE,
                      read_aloud=f"{witness}: type your passphrase. Your reviews and sign-offs in this ceremony "
                                 "are recorded under your name.",
                      help="The witness authenticates once per ceremony with the passphrase of their signing key; "
                           "every review they confirm and every step they sign off is then recorded with their "
                           "name, and their closing attestation signs it all.")


def authenticate(vault, witness: str, passphrase: Secret) -> str:
    """Check the witness's passphrase (PassphraseIncorrect); returns their key's fingerprint."""
    from vault.identity import unlock

    enrollment = enrollment_of(vault.store.get_custodian(witness))
    try:
        with unlock(enrollment, passphrase):
            pass
    finally:
        passphrase.wipe()
    return enrollment.fingerprint
