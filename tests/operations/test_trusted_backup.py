"""Backups on a token with trusted wrapping (issue 9, item 4): the backup's KEK is made trusted by
the quorum's SO, the keys it backs up carry CKA_WRAP_WITH_TRUSTED and keep it through a restore.

The profile's verdict is set to "safe" here (SoftHSM measured safe by the session-object method,
tests/hsm/test_trusted_wrapping.py); what the token does is not simulated.
"""

from __future__ import annotations

import pkcs11
import pytest
from pkcs11 import Attribute as A
from pkcs11 import KeyType, Mechanism

from vault.hsm import objects
from vault.operations import generate_key, open_token_session, restore_backup, write_backup
from vault.operations import trusted_policy
from vault.operations.token import initialise_token
from vault.types import KeyAlgorithm

from .conftest import CEREMONY


@pytest.fixture
def trusted(monkeypatch):
    monkeypatch.setattr(trusted_policy, "profile_verdict", lambda vault, token: "safe")


def _marked(session, key) -> bool:
    found = objects.find(session.p11, key, session.token)
    return (found.secret or found.private)[0][A.WRAP_WITH_TRUSTED]


def test_a_trusted_backup_restores_keys_that_stay_wrappable_only_by_a_trusted_kek(practice_vault, quorum, trusted,
                                                                                 tmp_path):
    initialise_token(practice_vault, quorum, ceremony_id=CEREMONY)
    bundle = tmp_path / "backup.bundle"
    with open_token_session(practice_vault, quorum) as session:
        assert session.trusted_wrapping
        aes = generate_key(practice_vault, session, "aes-1", KeyAlgorithm.AES_256)
        generate_key(practice_vault, session, "p256-1", KeyAlgorithm.EC_P256)
        assert all(_marked(session, k) for k in session.list_keys())
        result = write_backup(practice_vault, session, quorum, bundle, ceremony_id=CEREMONY)
        assert result.key_count == 2
    info = initialise_token(practice_vault, quorum, "replacement", replacement=True)
    with quorum.user_pin() as pin, practice_vault.hsm().open_session(info, pin) as fresh:
        fresh.trusted_wrapping = True  # as open_token_session sets it from the profile
        restored = restore_backup(practice_vault, fresh, quorum, bundle, ceremony_id=CEREMONY)
        assert sorted(restored.restored) == ["aes-1", "p256-1"]
        for key in fresh.list_keys():
            assert _marked(fresh, key), key.label  # the restored copy is as protected as the original
        own = fresh.p11.generate_key(KeyType.AES, 256, store=False, template={A.WRAP: True})
        target = objects.find(fresh.p11, next(k for k in fresh.list_keys() if k.label == aes.label), fresh.token)
        with pytest.raises(pkcs11.KeyNotWrappable):  # the user PIN alone cannot take the restored key out
            own.wrap_key(target.secret[0], mechanism=Mechanism(fresh.wrap_mechanism.value))


@pytest.mark.parametrize("verdict, severity, says", [
    ("safe", "ok", "the user PIN alone cannot"),
    ("unknown", "warning", "anyone with the user PIN can wrap one under a key of their own"),
    ("unsafe", "warning", "cannot be made safely here"),
])
def test_doctor_says_whether_the_user_pin_alone_can_wrap_a_backed_up_key(practice_vault, monkeypatch, verdict,
                                                                         severity, says):
    monkeypatch.setattr(trusted_policy, "profile_verdict", lambda vault, token: verdict)
    [(got, area, message, _)] = trusted_policy.doctor_findings(practice_vault, None)
    assert (got, area) == (severity, "trusted wrapping") and says in message
