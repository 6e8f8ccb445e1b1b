"""Certificate profiles are strictly parsed: every built-in parses; bad input is refused with the
file, the line and the key; the paper script prints each profile with its SHA-256."""

from __future__ import annotations

import hashlib

import pytest

from vault.ceremony.definitions import find_definition
from vault.ceremony.paper import paper_script
from vault.errors import MechanismUnsupported, ProfileInvalid
from vault.pki.profile import BUILTIN_PROFILES, list_profiles, load_profile, parse_profile
from vault.types import KeyAlgorithm, SignatureScheme

GOOD = (BUILTIN_PROFILES / "intermediate.toml").read_text()


def test_every_builtin_profile_parses_and_hashes_its_bytes():
    profiles = list_profiles()
    assert set(profiles) == {"root-ca", "intermediate", "cross-sign", "ocsp-signer", "leaf", "crl"}
    for p in profiles.values():
        assert p.sha256 == hashlib.sha256(p.source.read_bytes()).hexdigest()
    inter = profiles["intermediate"]
    assert inter.ca and inter.path_length == 0 and inter.subject.from_csr == ("CN",)
    assert inter.scheme_for(KeyAlgorithm.RSA_4096) is SignatureScheme.RSA_PKCS1_SHA384
    with pytest.raises(MechanismUnsupported):
        inter.scheme_for(KeyAlgorithm.ED25519)


@pytest.mark.parametrize("edit, line, key, problem", [
    (lambda t: t.replace("serial_bits = 128", "serial_bits = 63"), 10, "serial_bits", "between 64 and 159"),
    (lambda t: t.replace("serial_bits = 128", "serial_bits = 128\ncolour = \"red\""), 11, "colour", "unknown key"),
    (lambda t: t.replace('"crl_sign"', '"crl_signing"'), 14, "key_usage", "not a valid key usage"),
    (lambda t: t.replace('"server_auth"', '"web"'), 15, "extended_key_usage", "not a valid extended key usage"),
    (lambda t: t.replace("path_length = 0", "path_length = -1"), 25, "basic_constraints.path_length", "0 or more"),
    (lambda t: t.replace("ca = true\npath_length = 0", "ca = false"), 24, "basic_constraints.ca", "must have ca = true"),
    (lambda t: t.replace('C = "XX"', 'C = "Narnia"'), 19, "subject.C", "two-letter country"),
    (lambda t: t.replace('C = "XX"', 'EMAIL = "x@y"'), 19, "subject.EMAIL", "unknown attribute"),
    (lambda t: t.replace('ec = "ecdsa-sha384"', 'ec = "rsa-pss-sha256"'), 9, "signature.ec", "not a signature an ec key"),
    (lambda t: t.replace('"2.23.140.1.2.1"', '"not.an.oid"'), 16, "policies", "policy OID"),
    (lambda t: t.replace('"http://crl.example.com/root.crl"', '"ftp://x"'), 12, "crl_distribution_points", "URI"),
    (lambda t: t.replace('name = "intermediate"', 'name = "other"'), 4, "name", "must equal the file name"),
    (lambda t: t.replace("validity_days = 1826\n", ""), 1, "validity_days", "missing required key"),
])
def test_bad_profiles_are_refused_with_file_line_and_key(tmp_path, edit, line, key, problem):
    path = tmp_path / "intermediate.toml"
    path.write_text(edit(GOOD))
    with pytest.raises(ProfileInvalid) as info:
        parse_profile(path)
    message = str(info.value)
    assert f"{path}:{line}: key '{key}'" in message and problem in message, message


def test_the_paper_script_prints_the_profile_and_its_sha256():
    text = paper_script(find_definition("intermediate"))
    profile = load_profile("intermediate")
    assert f"Profile intermediate (step 4), SHA-256 {profile.sha256}" in text
    assert profile.text.strip() in text
