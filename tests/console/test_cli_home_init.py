"""`custodian home init --production`: a PIN given inside the token URI never reaches the disk."""

from __future__ import annotations

from console.cli import main as custodian
from vault.home import CONFIG_NAME, SOFTHSM_MODULE

PIN = "83729164"


def test_a_pin_in_the_production_token_uri_is_refused_before_anything_is_written(tmp_path, capsys):
    home = tmp_path / "prod"
    for uri in (f"pkcs11:token=root-hsm?pin-value={PIN}", f"pkcs11:token=root-hsm?pin-source=file:/tmp/{PIN}"):
        code = custodian(["--home", str(home), "home", "init", "--production", "--module", SOFTHSM_MODULE,
                          "--token", uri])
        out, err = capsys.readouterr()
        assert code != 0 and "HSM_URI" in err and len(err.strip().splitlines()) == 1
        assert PIN not in out + err
        assert not (home / CONFIG_NAME).exists()
        assert not any(PIN.encode() in f.read_bytes() for f in tmp_path.rglob("*") if f.is_file())
