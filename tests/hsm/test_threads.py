"""python-pkcs11 + SoftHSM crash when two threads are inside the module at once
(platform-facts, pitfall 1). vault.hsm holds one process-wide lock around every call, so
calls from several threads all succeed. Without the lock this test segfaults."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from tests.hsm.conftest import signing_algorithm
from vault.hsm import verify_signature
from vault.types import KeyAlgorithm

MESSAGE = b"threads"


def test_calls_from_many_threads(hsm_module, hsm_session, token):
    key = hsm_session.generate("shared", signing_algorithm(hsm_session), backup=False)
    pem = hsm_session.public_key_pem(key)
    start = threading.Barrier(6)

    def work(n: int) -> int:
        start.wait()
        done = 0
        for i in range(10):
            verify_signature(pem, key.algorithm, MESSAGE, hsm_session.sign(key, MESSAGE))
            hsm_session.generate(f"t{n}-{i}", KeyAlgorithm.AES_256, backup=False)
            assert len(hsm_session.random(8)) == 8
            assert len(hsm_module.random(token, 8)) == 8
            assert hsm_module.find_token(token).serial == token.serial
            done += 1
        hsm_session.list_keys()
        return done

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert list(pool.map(work, range(6))) == [10] * 6
    assert len(hsm_session.list_keys()) == 1 + 6 * 10
