"""Everything sensitive derives from the quorum secret (QS), with HKDF-SHA256 and fixed labels.

HKDF-SHA256 (RFC 5869) throughout: IKM = the 32-byte QS, salt = none (RFC 5869's HashLen zero
bytes), info = the label below as ASCII, L = the length below. The labels are part of the
backup format's break-glass recipe (docs/derivations.md): never change one; add a ``/v2/``
label instead.

=====================================  ======  ==================================================
label (info)                           length  use
=====================================  ======  ==================================================
custodian-console/v1/user-pin          16 B    token user PIN, as 32 lower-case hex characters (*)
custodian-console/v1/so-pin            16 B    token SO PIN, as 32 lower-case hex characters (*)
custodian-console/v1/backup-kek        32 B    AES-256 key-encryption key of backup bundles
custodian-console/v1/bundle-mac-key    32 B    HMAC-SHA256 key of backup bundles
custodian-console/v1/backup-metadata-key  32 B  AES-256-GCM key of the vault metadata in bundles
custodian-console/v1/check-value       16 B    check value (32 hex chars), stored in SQLite
=====================================  ======  ==================================================

(*) A token whose ulMaxPinLen is below 32 gets the same 16 bytes encoded to fit: the
max_len least significant base62 digits of the bytes read as a big-endian integer
(:func:`encode_pin`); the bits kept (:func:`pin_bits`, 47 for 8 characters) are named in the
init ceremony and in the ledger (``token.pin_fitted``).

Two more labels, not derivations from QS:

* ``custodian-console/v1/quorum-secret`` — making QS: HKDF-SHA256 with IKM = the HSM's random
  bytes (>= 32, from C_GenerateRandom) followed by 32 bytes of the host CSPRNG (``os.urandom``),
  no salt, L = 32. Either source alone being good is enough.
* ``custodian-console/v1/share-commitment`` — per-share commitment:
  ``HMAC-SHA256(key = the set's 16-byte random salt, msg = label || 0x00 || canonical share)``,
  where the canonical share is its 33 words in lower case joined by single spaces (UTF-8).
"""

from __future__ import annotations

import math
import os
from typing import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from vault.errors import HsmCheckFailed
from vault.secret import Secret

QS_BYTES = 32

LABEL_QUORUM_SECRET = b"custodian-console/v1/quorum-secret"
LABEL_USER_PIN = b"custodian-console/v1/user-pin"
LABEL_SO_PIN = b"custodian-console/v1/so-pin"
LABEL_BACKUP_KEK = b"custodian-console/v1/backup-kek"
LABEL_BUNDLE_MAC_KEY = b"custodian-console/v1/bundle-mac-key"
LABEL_CHECK_VALUE = b"custodian-console/v1/check-value"
LABEL_BACKUP_METADATA_KEY = b"custodian-console/v1/backup-metadata-key"
LABEL_SHARE_COMMITMENT = b"custodian-console/v1/share-commitment"

#: Every HKDF label derived from QS, for the documentation test (labels must stay distinct).
DERIVATION_LABELS = (LABEL_USER_PIN, LABEL_SO_PIN, LABEL_BACKUP_KEK, LABEL_BUNDLE_MAC_KEY, LABEL_CHECK_VALUE,
                     LABEL_BACKUP_METADATA_KEY)


def hkdf(ikm: bytes, label: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=label).derive(ikm)


def new_quorum_secret(hsm_random: bytes, *, host_random: Callable[[int], bytes] = os.urandom) -> Secret:
    """A fresh 32-byte QS from the HSM's RNG mixed with the host CSPRNG.

    ``hsm_random`` must hold at least 32 bytes (``ValueError`` otherwise: ask the HSM for 32).
    Output that is one byte repeated is refused as a broken RNG (``HsmCheckFailed``).
    """
    if isinstance(hsm_random, Secret):
        hsm_random = hsm_random.reveal()
    if not isinstance(hsm_random, (bytes, bytearray)):
        raise TypeError("hsm_random must be bytes from the HSM's C_GenerateRandom")
    if len(hsm_random) < QS_BYTES:
        raise ValueError(f"hsm_random has {len(hsm_random)} bytes; the quorum secret needs at least {QS_BYTES}")
    if len(set(hsm_random)) == 1:
        raise HsmCheckFailed(
            "The HSM's random number generator returned the same byte repeated; it cannot be trusted "
            "for a quorum secret."
        )
    host = host_random(QS_BYTES)
    if len(host) != QS_BYTES:
        raise ValueError("host_random returned the wrong number of bytes")
    return Secret(hkdf(bytes(hsm_random) + host, LABEL_QUORUM_SECRET, QS_BYTES), "quorum-secret")


def _qs(qs: Secret) -> bytes:
    value = qs.reveal()
    if len(value) != QS_BYTES:
        raise ValueError(f"a quorum secret has {QS_BYTES} bytes")
    return value


def check_value(qs: Secret) -> str:
    """32 hex characters; safe to store: it confirms a recovered QS without revealing it."""
    return hkdf(_qs(qs), LABEL_CHECK_VALUE, 16).hex()


#: A PIN in hex has 32 characters; a token whose ulMaxPinLen is shorter gets the *same* 16 HKDF
#: bytes encoded to fit (:func:`encode_pin`).
HEX_PIN_LEN = 32
PIN_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"  # base62


def encode_pin(raw: bytes, max_len: int | None = None) -> str:
    """The PIN encoding of 16 derived (or random) bytes for a token taking at most ``max_len`` characters.

    ``max_len`` None or >= 32: 32 lower-case hex characters (128 bits; every earlier vault).
    Shorter: the bytes as a big-endian integer N, written as the ``max_len`` least significant
    base62 digits of N (alphabet 0-9 A-Z a-z), i.e. N mod 62**max_len, most significant digit
    first. That keeps ``pin_bits(max_len)`` bits of the 128 (the bias of the modulo is below
    2**-80 for max_len <= 21). Deterministic: the same QS and limit always give the same PIN.
    """
    if len(raw) != 16:
        raise ValueError("a PIN encodes 16 bytes")
    if max_len is None or max_len >= HEX_PIN_LEN:
        return raw.hex()
    if max_len < 1:
        raise ValueError("a PIN has at least one character")
    n = int.from_bytes(raw, "big") % (len(PIN_ALPHABET) ** max_len)
    digits = []
    for _ in range(max_len):
        n, d = divmod(n, len(PIN_ALPHABET))
        digits.append(PIN_ALPHABET[d])
    return "".join(reversed(digits))


def pin_bits(max_len: int | None) -> int:
    """Bits of entropy a PIN encoded for ``max_len`` keeps (128 unless the limit weakens it)."""
    if max_len is None or max_len >= HEX_PIN_LEN:
        return 128
    return min(128, math.floor(max_len * math.log2(len(PIN_ALPHABET))))


def derive_user_pin(qs: Secret, max_len: int | None = None) -> Secret:
    return Secret(encode_pin(hkdf(_qs(qs), LABEL_USER_PIN, 16), max_len), "user-pin")


def derive_so_pin(qs: Secret, max_len: int | None = None) -> Secret:
    return Secret(encode_pin(hkdf(_qs(qs), LABEL_SO_PIN, 16), max_len), "so-pin")


def derive_backup_kek(qs: Secret) -> Secret:
    return Secret(hkdf(_qs(qs), LABEL_BACKUP_KEK, 32), "backup-kek")


def derive_bundle_mac_key(qs: Secret) -> Secret:
    return Secret(hkdf(_qs(qs), LABEL_BUNDLE_MAC_KEY, 32), "bundle-mac-key")


def derive_backup_metadata_key(qs: Secret) -> Secret:
    return Secret(hkdf(_qs(qs), LABEL_BACKUP_METADATA_KEY, 32), "backup-metadata-key")
