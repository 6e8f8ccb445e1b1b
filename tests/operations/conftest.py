"""A practice vault on a real SoftHSM token, and an activated quorum for it.

``practice_vault`` opens a fresh practice home under ``tmp_path`` (its own SoftHSM conf and
token directory, its own SQLite file). ``quorum`` splits a fresh quorum secret 2-of-3 with
vault.shares, records the share set, and activates it; ``shares`` are its three mnemonics
(practice values, never real ones). ``session`` is a logged-in session on the vault's token,
initialised through ``initialise_token``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from vault import shares
from vault.hsm import PRACTICE_MODULE, HsmSession
from vault.operations import ActiveQuorum, initialise_token, open_token_session
from vault.secret import Secret
from vault.types import Mode
from vault.vault import Vault

CEREMONY = "ceremony-test-1"


@dataclass
class QuorumKit:
    quorum: ActiveQuorum
    public: shares.ShareSetPublic
    mnemonics: tuple[Secret, ...]


@pytest.fixture
def practice_vault(tmp_path: Path) -> Iterator[Vault]:
    if not os.path.exists(PRACTICE_MODULE):
        pytest.skip("SoftHSM2 is not installed (apt-get install softhsm2)")
    vault = Vault.open(tmp_path / "home")
    vault.store.start_ceremony(CEREMONY, definition_name="test", definition_sha256="0" * 64, mode=Mode.PRACTICE)
    yield vault
    vault.hsm().close()
    vault.close()


def new_share_set(vault: Vault, name: str) -> QuorumKit:
    """A fresh QS split 2-of-3, its share set recorded (pending), the quorum active."""
    qs = shares.new_quorum_secret(os.urandom(32))
    split = shares.split(qs, shares.QuorumPolicy.simple(2, 3, iteration_exponent=0), None)
    public = split.public
    record = vault.store.add_share_set(
        name,
        identifier=public.identifier,
        group_threshold=public.group_threshold,
        groups=tuple((g.threshold, g.count) for g in public.groups),
        iteration_exponent=public.iteration_exponent,
        passphrase=public.passphrase,
        commitment_salt=public.commitment_salt,
        check_value=public.check_value,
    )
    return QuorumKit(ActiveQuorum(qs, record), public, tuple(secret for _, secret in split.shares))


@pytest.fixture
def kit(practice_vault: Vault) -> Iterator[QuorumKit]:
    kit = new_share_set(practice_vault, "set-1")
    yield kit
    kit.quorum.wipe()


@pytest.fixture
def quorum(kit: QuorumKit) -> ActiveQuorum:
    return kit.quorum


@pytest.fixture
def session(practice_vault: Vault, quorum: ActiveQuorum) -> Iterator[HsmSession]:
    initialise_token(practice_vault, quorum, ceremony_id=CEREMONY)
    with open_token_session(practice_vault, quorum) as session:
        yield session


def actions(vault: Vault) -> list[str]:
    return [event.action for event in vault.ledger.events()]


def last_event(vault: Vault, action: str):
    return [e for e in vault.ledger.events() if e.action == action][-1]
