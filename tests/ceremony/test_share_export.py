"""A scripted run writes new shares only inside the script's share directory."""

from __future__ import annotations

import pytest

from vault.ceremony.steps.quorum import _write_share_file
from vault.errors import PreconditionFailed
from vault.secret import Secret


@pytest.mark.parametrize("name", ["../escaped", "sub/../../escaped", "/tmp/escaped"])
def test_a_custodian_name_cannot_move_a_share_file_out_of_the_share_directory(tmp_path, name):
    share_dir = tmp_path / "run" / "shares"
    with pytest.raises(PreconditionFailed):
        _write_share_file(share_dir, name, Secret("academic acid ...", "share"))
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_plain_name_is_written_inside_with_owner_only_permissions(tmp_path):
    path = _write_share_file(tmp_path / "shares", "alice", Secret("academic acid", "share"))
    assert path == tmp_path / "shares" / "alice.share" and oct(path.stat().st_mode & 0o777) == "0o600"
