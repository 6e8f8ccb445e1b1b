"""The package stands on its own: the built wheel, installed into a fresh virtual environment
outside the source tree, lists the built-in ceremonies and runs a scripted one.

The fresh environment gets the wheel itself (`pip install --no-deps`) and borrows only the
third-party dependencies of the test environment (a .pth line to its site-packages: no network
install, and nothing of the source tree: the test checks where `vault` and `ceremonies` load from).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PEOPLE = ("admin", "wendy", "alice", "bob", "carol", "dave", "erin")


def _run(cmd, **kw):
    done = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=600, **kw)
    assert done.returncode == 0, f"{cmd}: {done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("wheel")
    dist = root / "dist"
    # A copy of the tracked files: the build sees what a fresh clone has, nothing of this tree's venv.
    src = root / "src"
    files = _run(["git", "ls-files", "-z"], cwd=REPO).stdout.split("\0")
    for name in filter(None, files):
        if (REPO / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, src / name)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(src)])
    [wheel] = dist.glob("custodian_console-*.whl")
    venv = root / "fresh"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    _run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-deps", "-q", str(wheel)])
    site = Path(_run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
                .stdout.strip())
    (site / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CUSTODIAN_HOME")}
    env.update({f"PASSPHRASE_{p.upper()}": f"practice-{p}-passphrase" for p in PEOPLE})
    return env


def test_the_wheel_loads_from_its_own_environment(installed: Path, tmp_path):
    done = _run([str(installed / "bin" / "python"), "-c",
                 "import vault, console, ceremonies; print(vault.__file__); print(ceremonies.__file__)"],
                cwd=tmp_path, env=_env())
    for line in done.stdout.split():
        assert Path(line).is_relative_to(installed) and not Path(line).is_relative_to(REPO), line


def test_ceremony_list_and_a_scripted_ceremony_from_the_installed_wheel(installed: Path, tmp_path):
    custodian = str(installed / "bin" / "custodian")
    home = tmp_path / "home"
    _run([custodian, "--home", str(home), "home", "init"], cwd=tmp_path, env=_env())
    listing = _run([custodian, "--home", str(home), "ceremony", "list"], cwd=tmp_path, env=_env()).stdout
    names = {line.split()[0] for line in listing.splitlines()}
    assert {"init", "generate-key", "backup", "restore", "drill", "destroy", "reshare", "sign"} <= names
    assert "Traceback" not in listing
    # the example scripts ship with the package data too
    examples = Path(_run([str(installed / "bin" / "python"), "-c",
                          "import ceremonies, pathlib; print(pathlib.Path(ceremonies.__file__).parent / 'examples')"],
                         cwd=tmp_path, env=_env()).stdout.strip())
    practice = tmp_path / "practice"
    shutil.copytree(examples, practice)
    done = _run([custodian, "--home", str(home), "ceremony", "run", "init", "--script", "init.toml"],
                cwd=practice, env=_env())
    assert done.stdout.startswith("ceremony init-") and done.stdout.strip().endswith("completed")
    assert len(list((practice / "shares").glob("*.share"))) == 5
    done = _run([custodian, "--home", str(home), "ceremony", "run", "generate-key", "--script", "generate-key.toml"],
                cwd=practice, env=_env())
    assert done.stdout.strip().endswith("completed")
    _run([custodian, "--home", str(home), "ledger", "verify"], cwd=tmp_path, env=_env())
    shown = _run([custodian, "--home", str(home), "ceremony", "show", "root-ca"], cwd=tmp_path, env=_env()).stdout
    assert "root-ca" in shown  # the certificate profiles ship as well
