"""vault.hsm.x509sign on a real SoftHSM token: every signature scheme a profile may name, checked
by ``cryptography`` here and by the signer itself before it returns."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.hsm.conftest import require, signing_algorithm
from vault.errors import HsmCheckFailed, MechanismUnsupported
from vault.hsm.x509sign import signatures_made, software_verify
from vault.types import KeyAlgorithm, SignatureScheme

TBS = b"\x30\x03\x02\x01\x05 pretend this is a TBSCertificate" * 20

CASES = [
    (KeyAlgorithm.EC_P256, SignatureScheme.ECDSA_SHA256),
    (KeyAlgorithm.EC_P384, SignatureScheme.ECDSA_SHA384),
    (KeyAlgorithm.EC_P384, SignatureScheme.ECDSA_SHA512),
    (KeyAlgorithm.RSA_3072, SignatureScheme.RSA_PKCS1_SHA256),
    (KeyAlgorithm.RSA_3072, SignatureScheme.RSA_PKCS1_SHA384),
    (KeyAlgorithm.RSA_3072, SignatureScheme.RSA_PSS_SHA256),
    (KeyAlgorithm.RSA_3072, SignatureScheme.RSA_PSS_SHA512),
    (KeyAlgorithm.ED25519, SignatureScheme.ED25519),
]


@pytest.fixture(scope="function")
def keys(hsm_session):
    made = {}

    def key(algorithm):
        require(hsm_session, algorithm, generate=True, sign=True)
        if algorithm not in made:
            made[algorithm] = hsm_session.generate(f"x509-{algorithm.value}", algorithm, backup=False)
        return made[algorithm]

    return key


@pytest.mark.parametrize("algorithm,scheme", CASES, ids=[s.value for _, s in CASES])
def test_each_scheme_signs_in_the_token_and_verifies_in_software(hsm_session, keys, algorithm, scheme):
    signer = hsm_session.x509_signer(keys(algorithm))
    before = signatures_made()
    signature = signer.sign(TBS, scheme)
    assert signatures_made() == before + 1
    software_verify(signer.public_key, scheme, TBS, signature)  # raises if bad


def test_a_scheme_that_does_not_fit_the_key_is_refused_before_the_token_signs(hsm_session, keys):
    algorithm = signing_algorithm(hsm_session)
    signer = hsm_session.x509_signer(keys(algorithm))
    before = signatures_made()
    wrong = SignatureScheme.ECDSA_SHA256 if algorithm is KeyAlgorithm.RSA_3072 else SignatureScheme.RSA_PKCS1_SHA256
    with pytest.raises(MechanismUnsupported):
        signer.sign(TBS, wrong)
    assert signatures_made() == before


def test_a_signature_that_does_not_verify_against_the_key_is_refused(hsm_session, keys):
    """The signer checks its result: with another public key in its place it must refuse."""
    algorithm = signing_algorithm(hsm_session)
    signer = hsm_session.x509_signer(keys(algorithm))
    if algorithm is KeyAlgorithm.RSA_3072:
        from cryptography.hazmat.primitives.asymmetric import rsa

        signer.public_key = rsa.generate_private_key(65537, 3072).public_key()
        scheme = SignatureScheme.RSA_PSS_SHA256
    else:
        signer.public_key = ec.generate_private_key(ec.SECP256R1()).public_key()
        scheme = SignatureScheme.ECDSA_SHA256
    with pytest.raises(HsmCheckFailed):
        signer.sign(TBS, scheme)
