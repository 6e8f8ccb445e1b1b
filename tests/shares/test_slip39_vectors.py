"""The official SLIP-39 vectors (trezor/python-shamir-mnemonic vectors.json; provenance in
slip39_vectors.md): the library we split with passes all 45, and our share collector recovers
every valid 33-word vector and names what is wrong with every invalid one."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest
from shamir_mnemonic import MnemonicError, Share, combine_mnemonics

from vault.errors import QuorumIncomplete, ShareChecksumInvalid
from vault.secret import Secret
from vault.shares import GroupSpec, ShareCollector, ShareSetPublic, check_value

PATH = Path(__file__).with_name("slip39_vectors.json")
SHA256 = "13ebecebdd869dd2bc2cdf69e7ce3a158cf106cac76c39d17682b1c6cdabbdc4"
VECTORS = json.loads(PATH.read_text())
PASSPHRASE = b"TREZOR"


def xprv(seed: bytes) -> str:
    """BIP32 master private key (mainnet) of a seed, base58check."""
    digest = hmac.new(b"Bitcoin seed", seed, hashlib.sha512).digest()
    raw = bytes.fromhex("0488ADE4") + b"\0" * 9 + digest[32:] + b"\0" + digest[:32]
    raw += hashlib.sha256(hashlib.sha256(raw).digest()).digest()[:4]
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    n, out = int.from_bytes(raw, "big"), ""
    while n:
        n, r = divmod(n, 58)
        out = alphabet[r] + out
    return out


def test_the_vectors_file_is_the_published_one():
    assert hashlib.sha256(PATH.read_bytes()).hexdigest() == SHA256
    assert len(VECTORS) == 45


@pytest.mark.parametrize(
    ("description", "mnemonics", "secret", "xprv_expected"), VECTORS, ids=[v[0].split(".")[0] for v in VECTORS]
)
def test_the_slip39_library_passes_the_vector(description, mnemonics, secret, xprv_expected):
    if secret:
        recovered = combine_mnemonics(mnemonics, passphrase=PASSPHRASE)
        assert recovered.hex() == secret
        assert xprv(recovered) == xprv_expected
    else:
        with pytest.raises(MnemonicError):
            combine_mnemonics(mnemonics, passphrase=PASSPHRASE)


def _public_for(mnemonics: list[str], secret: str) -> ShareSetPublic:
    """What the console would have stored for the vector's set (no commitments: not ours)."""
    first = Share.from_mnemonic(mnemonics[0])
    groups = [GroupSpec(1, 1)] * first.group_count
    for m in mnemonics:
        share = Share.from_mnemonic(m)
        groups[share.group_index] = GroupSpec(share.member_threshold, 16)
    return ShareSetPublic(
        identifier=first.identifier,
        iteration_exponent=first.iteration_exponent,
        group_threshold=first.group_threshold,
        groups=tuple(groups),
        commitment_salt="00" * 16,
        commitments=(),
        check_value=check_value(Secret(bytes.fromhex(secret))) if secret else "00" * 32,
        extendable=first.extendable,
        passphrase=True,
    )


LONG = {v[0].split(".")[0]: v for v in VECTORS if len(v[1][0].split()) == 33}
RECOVER = ["20", "23", "36", "37", "38", "44", "45"]
INCOMPLETE = ["24", "33", "34", "35"]


def test_every_33_word_vector_is_covered_below():
    assert sorted(LONG) == sorted(RECOVER + INCOMPLETE + ["21", "22"])


@pytest.mark.parametrize("number", RECOVER)
def test_the_collector_recovers_valid_vectors(number):
    _, mnemonics, secret, _ = LONG[number]
    collector = ShareCollector(_public_for(mnemonics, secret), ceremony_id="vectors")
    for m in mnemonics:
        collector.add(m)
    assert collector.recover(Secret(PASSPHRASE, "passphrase")).reveal().hex() == secret


@pytest.mark.parametrize("number", INCOMPLETE)
def test_the_collector_says_which_shares_are_missing(number):
    _, mnemonics, _, _ = LONG[number]
    collector = ShareCollector(_public_for(mnemonics, ""), ceremony_id="vectors")
    for m in mnemonics:
        collector.add(m)
    with pytest.raises(QuorumIncomplete, match="Not enough shares yet"):
        collector.recover(Secret(PASSPHRASE, "passphrase"))


@pytest.mark.parametrize(("number", "says"), [("21", "fails its checksum"), ("22", "not a valid SLIP-39 share")])
def test_the_collector_names_damaged_vectors(number, says):
    _, mnemonics, _, _ = LONG[number]
    healthy = _public_for(LONG["20"][1], LONG["20"][2])
    with pytest.raises(ShareChecksumInvalid, match=says):
        ShareCollector(healthy, ceremony_id="vectors").add(mnemonics[0])
