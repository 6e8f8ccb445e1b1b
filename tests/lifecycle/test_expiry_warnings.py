"""Cryptoperiod warnings in doctor and on the dashboard, judged at injected dates: nothing before
90 days, a warning from 90 and from 30 days before the end, the key listed as expired after it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from console import views
from vault.cryptoperiods import DEFAULT_DAYS, cryptoperiod_days, setting_name
from vault.doctor import run_doctor
from vault.store.clock import iso
from vault.types import KeyAlgorithm, KeyPurpose, KeyState
from vault.vault import Vault


@pytest.fixture
def vault(tmp_path):
    v = Vault.open(tmp_path / "home")
    yield v
    v.close()


def _add(v, name, algorithm, days):
    return v.store.add_key(name, cka_id="01" * 16, algorithm=algorithm, fingerprint="kcv:000000",
                           token_serial="none", actor="test", state=KeyState.ACTIVE, cryptoperiod_days=days)


def _at(key, days_after_activation: float) -> datetime:
    return datetime.fromisoformat(key.activated_at.replace("Z", "+00:00")) + timedelta(days=days_after_activation)


def _expiry_lines(v, now) -> list[str]:
    return [f"{f.severity} {f.area}: {f.message}" for f in run_doctor(v, now=now).findings
            if f.area in ("key expiry", "expired key")]


def test_doctor_warns_at_90_and_30_days_and_lists_expired_keys(vault):
    key = _add(vault, "dek", KeyAlgorithm.AES_256, 365)
    assert key.expires_at == iso(_at(key, 365))  # the cryptoperiod starts at activation
    assert _expiry_lines(vault, _at(key, 365 - 91)) == []
    [line] = _expiry_lines(vault, _at(key, 365 - 89))
    assert line.startswith("warning key expiry: dek@1 (encrypt) cryptoperiod ends") and "in 89 days" in line
    [line] = _expiry_lines(vault, _at(key, 365 - 29.5))
    assert "in 29 days" in line
    [line] = _expiry_lines(vault, _at(key, 366))
    assert line.startswith("warning expired key: dek@1 (encrypt) cryptoperiod ended")
    vault.store.transition_key(key.id, KeyState.DEACTIVATED, actor="t", ceremony_id=None, reason="retired")
    assert _expiry_lines(vault, _at(key, 366)) == []  # a deactivated key protects nothing: no warning


def test_the_dashboard_shows_the_same_warnings(vault):
    key = _add(vault, "signer", KeyAlgorithm.EC_P256, 100)
    assert not any("signer@1" in w for w in views.dashboard(vault, _at(key, 1)).warnings)
    assert any("signer@1 (sign) cryptoperiod ends" in w for w in views.dashboard(vault, _at(key, 20)).warnings)
    assert any("signer@1 (sign) cryptoperiod ended" in w for w in views.dashboard(vault, _at(key, 101)).warnings)


def test_default_cryptoperiods_follow_sp800_57_and_are_configurable(vault):
    assert DEFAULT_DAYS[KeyPurpose.SIGN] == 3 * 365 and DEFAULT_DAYS[KeyPurpose.WRAP] == 2 * 365
    assert cryptoperiod_days(vault.store, KeyPurpose.ENCRYPT) == 730
    vault.store.set_setting(setting_name(KeyPurpose.ENCRYPT), "180")
    assert cryptoperiod_days(vault.store, KeyPurpose.ENCRYPT) == 180
