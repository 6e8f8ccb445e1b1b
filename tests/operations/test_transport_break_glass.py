"""Break glass for key transport (docs/transport-format.md, section 5): the receiver opens a
transport file with openssl and raw python-pkcs11 calls of this test, not the console's code,
and gets the key with the check value the sender recorded."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pkcs11
from pkcs11 import MGF, KeyType, Mechanism, ObjectClass
from pkcs11 import Attribute as A

from vault.operations.export import export_key
from vault.operations.transport import make_import_request, send_key

from .test_transport import sides  # noqa: F401  (the two-vault fixture)


def test_a_transport_file_opens_with_standard_tools_on_the_receiving_hsm(sides, tmp_path):  # noqa: F811
    a, b, sent = sides
    with b.session() as s:
        request = make_import_request(b.vault, s, "b-signer", tmp_path / "request.json")
    with a.session() as s:
        result = send_key(a.vault, s, Path(request.path), "shared-dek", "a-signer", tmp_path / "dek.transport",
                          quorum=a.kit.quorum)
    signer_pem = tmp_path / "a-signer.pem"
    export_key(a.vault, "a-signer", "pem", signer_pem)
    a.release()
    # 1. the sender's signature, with openssl and the pinned PEM
    transport = Path(result.path)
    assert subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(signer_pem), "-signature",
                           str(transport) + ".sig", str(transport)], capture_output=True).returncode == 0
    body = json.loads(transport.read_text())
    wrapping = body["wrapping"]
    # 2.-4. raw PKCS#11 on B's token, logged in with B's derived user PIN
    module = b.vault.hsm()  # loads B's SoftHSM configuration; python-pkcs11 then talks to that token
    serial = b.vault.store.get_setting("token.serial")
    token = pkcs11.lib(module.module_path).get_token(token_serial=serial.encode())  # the same loaded library
    with b.kit.quorum.user_pin() as pin, token.open(rw=True, user_pin=pin.reveal_text()) as raw:
        private = raw.get_key(object_class=ObjectClass.PRIVATE_KEY, label="transport")
        hashes = {"sha1": (Mechanism.SHA_1, MGF.SHA1, None), "sha256": (Mechanism.SHA256, MGF.SHA256, None)}
        ephemeral = private.unwrap_key(ObjectClass.SECRET_KEY, KeyType.AES,
                                       base64.b64decode(wrapping["wrapped_ephemeral"]),
                                       mechanism=Mechanism.RSA_PKCS_OAEP, mechanism_param=hashes[wrapping["oaep_hash"]],
                                       store=False, template={A.UNWRAP: True, A.SENSITIVE: True})
        key = ephemeral.unwrap_key(ObjectClass.SECRET_KEY, KeyType.AES, base64.b64decode(wrapping["wrapped_key"]),
                                   mechanism=Mechanism.AES_KEY_WRAP_PAD, store=False,
                                   template={A.ENCRYPT: True, A.SENSITIVE: True})
        # 5. the check value equals what the sender recorded and the file says
        kcv = "kcv:" + key.encrypt(bytes(16), mechanism=Mechanism.AES_ECB)[:3].hex()
    b.release()
    assert kcv == body["key"]["fingerprint"] == sent["aes"].fingerprint
