"""`custodian home init --production`: a PIN given inside the token URI never reaches the disk."""

from __future__ import annotations

from console.cli import main as custodian
from vault.home import CONFIG_NAME
from vault.hsm import PRACTICE_MODULE

PIN = "83729164"


def test_a_pin_in_the_production_token_uri_is_refused_before_anything_is_written(tmp_path, capsys):
    home = tmp_path / "prod"
    for uri in (f"pkcs11:token=root-hsm?pin-value={PIN}", f"pkcs11:token=root-hsm?pin-source=file:/tmp/{PIN}"):
        code = custodian(["--home", str(home), "home", "init", "--production", "--module", PRACTICE_MODULE,
                          "--token", uri])
        out, err = capsys.readouterr()
        assert code != 0 and "HSM_URI" in err and len(err.strip().splitlines()) == 1
        assert PIN not in out + err
        assert not (home / CONFIG_NAME).exists()
        assert not any(PIN.encode() in f.read_bytes() for f in tmp_path.rglob("*") if f.is_file())


def test_adoption_takes_the_current_so_pin_only_by_reference(tmp_path, capsys):
    home = tmp_path / "prod"
    base = ["--home", str(home), "home", "init", "--production", "--module", PRACTICE_MODULE, "--token", "vault-hsm",
            "--adopt", "pkcs11:serial=123"]
    code = custodian(base + ["--current-so-pin", PIN])  # a PIN in clear on the command line
    out, err = capsys.readouterr()
    assert code != 0 and err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert PIN not in out + err and not home.exists()
    assert custodian(base + ["--current-so-pin", "env:VENDOR_SO_PIN"]) == 0
    text = (home / CONFIG_NAME).read_text()
    assert 'adopt_token = "pkcs11:serial=123"' in text and 'current_so_pin = "env:VENDOR_SO_PIN"' in text
