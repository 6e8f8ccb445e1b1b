"""The architecture's import rules, checked on the real modules.

- vault/ never imports textual, rich or console (checked in a fresh interpreter, by sys.modules);
- only vault/hsm imports pkcs11; only vault/store imports sqlite3 / sqlite_utils (checked on the
  source, so an import inside a function is caught too);
- SoftHSM is named only by the practice-token module and SoftHSM's profile: every other file of
  vault/ and console/ talks to "the token", whichever module it is (issue 9).
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _vault_modules() -> list[str]:
    mods = []
    for path in sorted((ROOT / "vault").rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods.append(".".join(parts))
    return mods


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_importing_every_vault_module_loads_no_ui_package():
    code = (
        "import importlib, json, sys\n"
        f"for m in {_vault_modules()!r}:\n"
        "    importlib.import_module(m)\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in {'textual', 'rich', 'console'})\n"
        "print(json.dumps(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_only_vault_hsm_imports_pkcs11_and_only_vault_store_touches_sqlite():
    offenders = []
    for pkg in ("vault", "console"):
        for path in (ROOT / pkg).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            imported = _imports(path)
            if "pkcs11" in imported and not rel.startswith("vault/hsm/"):
                offenders.append(f"{rel} imports pkcs11")
            if imported & {"sqlite3", "sqlite_utils"} and not rel.startswith("vault/store/"):
                offenders.append(f"{rel} imports sqlite")
            if pkg == "vault" and imported & {"textual", "rich", "console"}:
                offenders.append(f"{rel} imports a UI package")
    assert offenders == []


def test_custodian_help_does_not_import_textual():
    code = (
        "import sys, io, contextlib\n"
        "from console import cli\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n"
        "    try:\n"
        "        cli.main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print('TEXTUAL' if any(n.split('.')[0] in ('textual', 'rich') for n in sys.modules) else 'CLEAN')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "CLEAN"


#: The only files that may name SoftHSM: the practice token's module and SoftHSM's HSM profile.
SOFTHSM_ALLOWED = ("vault/hsm/practice_token.py", "vault/hsm/profiles/softhsm")


def _softhsm_mentions(root: Path) -> list[str]:
    hits = []
    for pkg in ("vault", "console"):
        for path in sorted((root / pkg).rglob("*")):
            rel = path.relative_to(root).as_posix()
            if not path.is_file() or "__pycache__" in path.parts or rel.startswith(SOFTHSM_ALLOWED):
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            for n, line in enumerate(text.splitlines(), 1):
                if re.search("softhsm", line, re.IGNORECASE):
                    hits.append(f"{rel}:{n}: {line.strip()}")
    return hits


def test_softhsm_is_named_only_by_the_practice_token_module_and_its_profile():
    """A production path that knows it talks to SoftHSM is a production path that breaks on a real
    HSM: the module path, the practice conf's name and its old custodian.toml key all live in
    vault.hsm.practice_token; everything else asks the token or reads the profile."""
    assert _softhsm_mentions(ROOT) == []


def test_the_softhsm_scan_sees_a_mention_outside_the_allowed_files(tmp_path):
    """The scan itself: a mention in an ordinary module (code or comment, any case) is found, the
    allowed files are not reported."""
    for rel, text in {"vault/ops.py": "x = 1  # the SoftHSM token\n", "console/a.tcss": "/* softhsm */\n",
                      "vault/hsm/practice_token.py": "SOFTHSM = 1\n",
                      "vault/hsm/profiles/softhsm-2.6.toml": "manufacturer = \"SoftHSM\"\n"}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    assert sorted(_softhsm_mentions(tmp_path)) == ["console/a.tcss:1: /* softhsm */",
                                                   "vault/ops.py:1: x = 1  # the SoftHSM token"]


def untyped_vault_parameters(root: Path) -> list[str]:
    """``file:line function`` for each parameter named ``vault`` without an annotation."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
                found += [f"{path.relative_to(root.parent.parent)}:{a.lineno} {node.name}"
                          for a in args if a.arg == "vault" and a.annotation is None]
    return found


def test_every_vault_parameter_of_the_operations_is_typed():
    # The operations take the open Vault; typed (under TYPE_CHECKING where an import would cycle),
    # a reader and a type checker see what each one may touch.
    assert untyped_vault_parameters(ROOT / "vault" / "operations") == []


def test_the_typing_scan_sees_an_untyped_vault(tmp_path):
    ops = tmp_path / "vault" / "operations"
    ops.mkdir(parents=True)
    (ops / "x.py").write_text("def f(session, vault, *, n: int = 1):\n    pass\n")
    assert untyped_vault_parameters(ops) == ["vault/operations/x.py:1 f"]
