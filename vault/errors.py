"""The one error vocabulary of the vault.

Every error the domain raises for an expected condition is a ``VaultError`` subclass with a
stable ``code`` (written to the ledger, documented, never renamed) and a short ``title`` for the
UI. Messages are safe to show and to log: they never contain a share, PIN, passphrase, quorum
secret or key bytes. Each message names the problem and ``next_step`` says what to do about it.

``ValueError``/``TypeError`` are kept for programmer misuse only.
"""

from __future__ import annotations


class VaultError(Exception):
    code = "VAULT"
    title = "Vault error"
    default_next_step = "Read the message, correct the input and try again."

    def __init__(self, message: str, *, next_step: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.next_step = next_step or self.default_next_step

    def __str__(self) -> str:
        return f"{self.message} Next: {self.next_step}"

    def one_line(self) -> str:
        """``CODE: message Next: step`` on one line, for the CLI and the ledger."""
        return f"{self.code}: {self}".replace("\n", " ")


# --- configuration and environment -------------------------------------------------------------
class ConfigError(VaultError):
    code = "CONFIG"
    title = "Configuration problem"


class HomeError(ConfigError):
    code = "HOME"
    title = "Console home problem"


class HomeLocked(HomeError):
    code = "HOME_LOCKED"
    title = "Home in use"
    default_next_step = ("Wait until that process ends (or end it where it runs); read-only commands such as "
                         "`custodian doctor` still work meanwhile.")


class NoVault(HomeError):
    code = "NO_VAULT"
    title = "No console home here"
    default_next_step = "Create one with `custodian home init` (or open the console), or check --home."


class AirGapViolation(VaultError):
    code = "AIRGAP"
    title = "Machine is not air-gapped"
    default_next_step = "Disconnect the network (or override with a recorded reason)."


# --- HSM ------------------------------------------------------------------------------------------
class HsmError(VaultError):
    code = "HSM"
    title = "HSM error"
    default_next_step = "Check the token and the module, then retry the step."


class ModuleLoadError(HsmError):
    code = "HSM_MODULE"
    title = "PKCS#11 module could not be loaded"
    default_next_step = "Check the module path in custodian.toml and that the module is installed."


class TokenNotFound(HsmError):
    code = "HSM_NO_TOKEN"
    title = "Token not found"
    default_next_step = "Check the token label, serial or URI; `custodian doctor` lists tokens."


class TokenAmbiguous(HsmError):
    code = "HSM_TOKEN_AMBIGUOUS"
    title = "More than one token matches"
    default_next_step = "Select the token by serial or by a more specific PKCS#11 URI."


class PinIncorrect(HsmError):
    code = "HSM_PIN"
    title = "Token refused the PIN"
    default_next_step = "Re-activate the quorum with the right shares and passphrase."


class PinLocked(HsmError):
    code = "HSM_PIN_LOCKED"
    title = "Token has locked the PIN"
    default_next_step = "The token's security officer must unlock it (with the HSM vendor's tools); nothing was changed."


class PinEntryCancelled(HsmError):
    """The PIN holder stopped an HSM login at the PIN question (pin_policy "hsm-procedure")."""

    code = "HSM_PIN_CANCELLED"
    title = "HSM login stopped"
    default_next_step = "Start the ceremony again when the PIN holder is ready."


class PinLengthInvalid(HsmError):
    code = "HSM_PIN_LENGTH"
    title = "PIN does not fit the token's limits"
    default_next_step = "Use a PIN within the token's limits (`custodian doctor` shows them)."


class TokenNotInitialised(HsmError):
    code = "HSM_NOT_INITIALISED"
    title = "Token is not initialised"
    default_next_step = "Run the init ceremony for this token."


class PinPolicyRefused(ConfigError):
    code = "PIN_POLICY"
    title = "The token cannot serve this PIN policy"
    default_next_step = "Remove [hsm] pin_policy from custodian.toml: the PINs then derive from the quorum."


class MechanismUnsupported(HsmError):
    code = "HSM_MECHANISM"
    title = "Token does not support this"
    default_next_step = "Choose an algorithm the capability probe lists (`custodian doctor`)."


class KeyNotWrappable(HsmError):
    code = "HSM_NOT_WRAPPABLE"
    title = "Key cannot be wrapped for backup"
    default_next_step = "Choose a wrappable algorithm, or record an explicit no-backup decision."


class LabelExists(HsmError):
    code = "HSM_LABEL_EXISTS"
    title = "Label already in use"
    default_next_step = "Choose a label that no key on the token or in the database uses."


class KeyNotFound(HsmError):
    code = "HSM_NO_KEY"
    title = "Key not found"
    default_next_step = "List keys with `custodian keys list` and check the label."


class WrappedKeyInvalid(HsmError):
    code = "HSM_UNWRAP"
    title = "Wrapped key rejected"
    default_next_step = "Verify the bundle and that the quorum belongs to the share set that made it."


class HsmCheckFailed(HsmError):
    code = "HSM_CHECK"
    title = "HSM output failed verification"
    default_next_step = "Stop the ceremony, record a deviation and inspect the token."


class HsmThreadViolation(HsmError):
    code = "HSM_THREAD"
    title = "PKCS#11 used off its owning thread"
    default_next_step = "This is a bug: run HSM work through the vault runtime."


# --- quorum and shares ------------------------------------------------------------------------
class ShareError(VaultError):
    code = "SHARE"
    title = "Share problem"
    default_next_step = "Re-enter the share carefully, word by word."


class PolicyInvalid(ShareError):
    code = "QUORUM_POLICY"
    title = "Quorum policy not possible"
    default_next_step = "Choose a threshold and share count within the SLIP-39 limits."


class ShareWordInvalid(ShareError):
    code = "SHARE_WORD"
    title = "Not a share word"


class ShareLengthInvalid(ShareError):
    code = "SHARE_LENGTH"
    title = "Wrong number of words"


class ShareChecksumInvalid(ShareError):
    code = "SHARE_CHECKSUM"
    title = "Share checksum does not match"


class ShareForeign(ShareError):
    code = "SHARE_FOREIGN"
    title = "Share belongs to another set"
    default_next_step = "Ask the custodian for the share of the active share set."


class ShareRetired(ShareError):
    code = "SHARE_RETIRED"
    title = "Share set was retired"
    default_next_step = "This share opens nothing any more; ask for a share of the active set."


class ShareDuplicate(ShareError):
    code = "SHARE_DUPLICATE"
    title = "Share already entered"
    default_next_step = "Ask the next custodian for a different share."


class ShareMismatch(ShareError):
    code = "SHARE_MISMATCH"
    title = "Share does not match its commitment"
    default_next_step = "The share was written down wrongly; compare it word by word with the card."


class ShareConflict(ShareMismatch):
    code = "SHARE_CONFLICT"
    title = "Another share with this number was already entered"
    default_next_step = "Compare this share word by word with the card; one of the two entries is wrong."


class QuorumIncomplete(ShareError):
    code = "QUORUM_INCOMPLETE"
    title = "Not enough shares"
    default_next_step = "Collect shares from more custodians."


class QuorumCheckFailed(ShareError):
    code = "QUORUM_CHECK"
    title = "Quorum check value does not match"
    default_next_step = "Check the passphrase and the shares, then try again."


class QuorumCancelled(ShareError):
    code = "QUORUM_CANCELLED"
    title = "Quorum activation cancelled"
    default_next_step = "Start the quorum activation again when the custodians are ready."


# --- store and lifecycle ------------------------------------------------------------------------
class StoreError(VaultError):
    code = "STORE"
    title = "Database problem"
    default_next_step = "Run `custodian doctor` to check the database."


class SchemaError(StoreError):
    code = "STORE_SCHEMA"
    title = "Database schema problem"


class RecordNotFound(StoreError):
    code = "STORE_NOT_FOUND"
    title = "Not found"
    default_next_step = "Check the name or id; list what exists with the matching `list` command."


class RecordExists(StoreError):
    code = "STORE_EXISTS"
    title = "Already exists"
    default_next_step = "Choose another name."


class TransitionRefused(StoreError):
    code = "KEY_TRANSITION"
    title = "Key state change not allowed"
    default_next_step = "Only NIST SP 800-57 transitions are allowed; see `custodian keys show`."


class LedgerTampered(StoreError):
    code = "LEDGER_TAMPERED"
    title = "Ledger chain is broken"
    default_next_step = "Stop; compare with the last printed head hash and report to the auditors."


# --- identity -------------------------------------------------------------------------------------
class IdentityError(VaultError):
    code = "IDENTITY"
    title = "Custodian identity problem"


class PassphraseIncorrect(IdentityError):
    code = "PASSPHRASE"
    title = "Passphrase refused"
    default_next_step = "Type the passphrase again."


class SignatureInvalid(IdentityError):
    code = "SIGNATURE"
    title = "Signature does not verify"
    default_next_step = "Check the signer's public key and the signed file."


class PassphraseTooShort(IdentityError):
    code = "PASSPHRASE_SHORT"
    title = "Passphrase too short"
    default_next_step = "Choose a longer passphrase (a few words is best)."


class EnrollmentInvalid(IdentityError):
    code = "ENROLLMENT_INVALID"
    title = "Custodian enrollment is not valid"
    default_next_step = "Check the custodian's name, or re-enroll the custodian in a ceremony."


# --- backup ---------------------------------------------------------------------------------------
class BackupError(VaultError):
    code = "BACKUP"
    title = "Backup problem"


class BundleCorrupt(BackupError):
    code = "BUNDLE_CORRUPT"
    title = "Backup bundle is damaged"
    default_next_step = "Use another copy of the bundle; this one must not be restored."


class OutputExists(BackupError):
    code = "OUTPUT_EXISTS"
    title = "Output file already exists"
    default_next_step = "Choose a new path; the console never overwrites a file."


class OutputWriteFailed(BackupError):
    code = "OUTPUT_WRITE"
    title = "Output file could not be written"
    default_next_step = "Check the medium is mounted and writable, then retry."


class OutputPathUnsafe(BackupError):
    code = "OUTPUT_UNSAFE"
    title = "Output path is not safe to write"
    default_next_step = "Give a new file in a real directory: no symbolic link in the path."


class BundleUnreadable(BackupError):
    code = "BUNDLE_UNREADABLE"
    title = "Backup bundle cannot be read"
    default_next_step = "Check the path and that the medium is mounted and readable."


# --- ceremonies -----------------------------------------------------------------------------------
class CeremonyError(VaultError):
    code = "CEREMONY"
    title = "Ceremony problem"


class DefinitionInvalid(CeremonyError):
    code = "DEFINITION"
    title = "Ceremony definition is invalid"
    default_next_step = "Fix the named key in the definition file."


class PreconditionFailed(CeremonyError):
    code = "PRECONDITION"
    title = "Ceremony cannot start"


class CeremonyUnfinished(CeremonyError):
    code = "CEREMONY_UNFINISHED"
    title = "An unfinished ceremony is waiting"
    default_next_step = "Resume it or abort it with a reason (`custodian ceremony unfinished` lists them)."


class ScriptInvalid(CeremonyError):
    code = "SCRIPT"
    title = "Ceremony script is invalid"
    default_next_step = "Fix the named entry in the script file."


class CeremonyAborted(CeremonyError):
    code = "ABORTED"
    title = "Ceremony aborted"
    default_next_step = "Review the transcript; start the ceremony again when ready."


class CeremonyUnknown(CeremonyError):
    code = "CEREMONY_UNKNOWN"
    title = "No such ceremony"
    default_next_step = "List the ceremonies with `custodian ceremony list`."


class AnswerInvalid(CeremonyError):
    code = "ANSWER"
    title = "Answer not accepted"


class ReviewMismatch(CeremonyError):
    """What the HSM would act on is no longer what the administrator and the witness reviewed."""

    code = "REVIEW_MISMATCH"
    title = "Changed since the review"
    default_next_step = "Start the step again and review what is there now."


# --- operations (vault.operations) ------------------------------------------------------------
class LabelInvalid(VaultError):
    code = "LABEL_INVALID"
    title = "Label not allowed"
    default_next_step = "Use 1 to 128 printable characters, without control characters."


class NoBackupReasonMissing(BackupError):
    code = "NO_BACKUP_REASON"
    title = "No-backup decision needs a reason"
    default_next_step = "Give the reason the key must not be backed up; it goes into the ledger."


class KeyNotActive(StoreError):
    code = "KEY_NOT_ACTIVE"
    title = "Key is not active"
    default_next_step = "Only an active key may protect or sign; check `custodian keys show`."


class TokenInUse(HsmError):
    code = "HSM_TOKEN_IN_USE"
    title = "Token already in use"
    default_next_step = "Use a fresh token; initialising a replacement must be asked for explicitly."


class TokenNotEmpty(HsmError):
    code = "HSM_TOKEN_NOT_EMPTY"
    title = "Token already holds keys"
    default_next_step = "Restore onto a fresh token (or remove the listed keys through the destroy ceremony)."


class TokenDisagrees(HsmError):
    code = "HSM_TOKEN_DISAGREES"
    title = "Token and database disagree"
    default_next_step = "Run the reconcile ceremony to adopt or destroy each orphan with a quorum."


class BundleForeign(BackupError):
    code = "BUNDLE_FOREIGN"
    title = "Bundle belongs to another quorum"
    default_next_step = "Activate the quorum (share set) that wrote this bundle, or use a bundle of this quorum."


class BundleMismatch(BackupError):
    code = "BUNDLE_MISMATCH"
    title = "Bundle differs from the vault's record"
    default_next_step = ("Use an untouched copy of this backup (its SHA-256 is in the ledger's backup.written event) "
                         "or another recorded backup; nothing was changed.")


class DrillFailed(BackupError):
    code = "DRILL_FAILED"
    title = "Restore drill failed"
    default_next_step = "Keep the bundle; write a new backup and drill it; record a deviation."


class PayloadUnreadable(VaultError):
    code = "PAYLOAD_UNREADABLE"
    title = "Payload cannot be read"
    default_next_step = "Check the path and that the medium is mounted and readable."


class PurposeMismatch(VaultError):
    code = "KEY_PURPOSE"
    title = "The key's purpose does not allow this"
    default_next_step = "Use a key whose purpose fits (sign, encrypt, wrap or transport); `custodian keys list` shows them."


class KeyExpired(VaultError):
    code = "KEY_EXPIRED"
    title = "The key's cryptoperiod is over"
    default_next_step = "Rotate the key, or deactivate it; it may still verify or decrypt what it protected."


class NotYetActive(VaultError):
    code = "KEY_NOT_YET_ACTIVE"
    title = "The key's activation date has not come"
    default_next_step = "Activate it on or after its activation date."


class ExportRefused(VaultError):
    code = "EXPORT_REFUSED"
    title = "This key cannot be exported in that form"
    default_next_step = "Key pairs export as pem, der, jwk or openssh; AES keys only as their check value (kcv)."


class PublicKeyUnreadable(VaultError):
    code = "PUBLIC_KEY"
    title = "Public key cannot be read"
    default_next_step = "Give the signer's public key as a PEM or DER SubjectPublicKeyInfo file."


class TranscriptUnreadable(VaultError):
    code = "TRANSCRIPT_UNREADABLE"
    title = "Transcript cannot be read"
    default_next_step = "Export it with `custodian transcript ID --format json` and give that file."


class PinnedKeysInvalid(VaultError):
    code = "PINNED_KEYS"
    title = "Pinned keys file is not usable"
    default_next_step = 'Give a JSON object of participant name -> public key PEM, e.g. {"alice": "-----BEGIN PUBLIC KEY-----..."}.'


# --- the command line -----------------------------------------------------------------------------
class UsageError(VaultError):
    code = "USAGE"
    title = "Command not understood"
    default_next_step = "See `custodian --help` (or `custodian COMMAND --help`)."


class Interrupted(VaultError):
    code = "INTERRUPTED"
    title = "Interrupted"
    default_next_step = ("`custodian ceremony unfinished` shows a ceremony the interruption left unfinished "
                         "(resume or abort it there); any other command can simply be run again.")


class InternalError(VaultError):
    code = "INTERNAL"
    title = "Internal error"
    default_next_step = ("This is a bug and nothing further was done; run again with CUSTODIAN_DEBUG=1 to see "
                         "the traceback, and report it.")


# --- PKI (certificates, CSRs, CRLs) -----------------------------------------------------------------
class PkiError(VaultError):
    code = "PKI"
    title = "Certificate problem"
    default_next_step = "Read the message; nothing was signed."


class ProfileInvalid(PkiError):
    code = "PKI_PROFILE_INVALID"
    title = "Certificate profile is invalid"
    default_next_step = "Correct the profile file (file, line and key are named); nothing was signed."


class CsrInvalid(PkiError):
    code = "PKI_CSR_INVALID"
    title = "Certificate request refused"
    default_next_step = "Ask the requester for a new CSR (PEM or DER, signed by its own key)."


class LintFailed(PkiError):
    code = "PKI_LINT_FAILED"
    title = "The linter found errors"
    default_next_step = "Correct the profile so that pkilint reports no error; nothing was signed."


class ValidityBeyondIssuer(PkiError):
    code = "PKI_VALIDITY_BEYOND_ISSUER"
    title = "Validity ends after the issuer's"
    default_next_step = "Shorten validity_days in the profile or re-issue the issuer first; nothing was signed."


class PathLengthViolation(PkiError):
    code = "PKI_PATH_LENGTH"
    title = "Path length constraint violated"
    default_next_step = "Issue from a CA whose path length allows it, or lower path_length in the profile."


class SerialReused(PkiError):
    code = "PKI_SERIAL_REUSED"
    title = "Serial number already used"
    default_next_step = "Run the step again: a new serial is drawn from the HSM; nothing was signed."


class SubjectInUse(PkiError):
    code = "PKI_SUBJECT_IN_USE"
    title = "Another CA key already has this name"
    default_next_step = ("Give the new root its own subject in the profile, or, for a re-key, give the reason "
                         "(it goes to the ledger); nothing was signed.")


class IssuerNotUsable(PkiError):
    code = "PKI_ISSUER_UNUSABLE"
    title = "The issuing certificate cannot issue"
    default_next_step = "Choose a valid, unrevoked CA certificate whose key is on this vault's token."


class CertificateCheckFailed(PkiError):
    code = "PKI_CHECK_FAILED"
    title = "The signed result failed its software check"
    default_next_step = "Nothing was written; check the token and report the incident."


class EnvelopeCorrupt(VaultError):
    code = "ENVELOPE_CORRUPT"
    title = "Encrypted file is damaged or was changed"
    default_next_step = "Nothing was written. Use an intact copy of the encrypted file."


class DecryptionRefused(VaultError):
    code = "DECRYPT_REFUSED"
    title = "This key version may not decrypt"
    default_next_step = "Only versions that are active, suspended or deactivated, at or above the minimum decryption version, decrypt."


class TransportRefused(VaultError):
    code = "TRANSPORT_REFUSED"
    title = "Key transport refused"
    default_next_step = "Nothing was created. Check the file, its sender and the pinned peer vaults."
