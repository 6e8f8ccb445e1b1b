"""The repository stands on its own, and its docs tell the truth about the CLI:

* README.md, docs/*.md, ceremonies/README.md and bench/README.md link only to files inside the
  repository (every relative link resolves; nothing points outside it or at an absolute path);
* no file in the repository (docs, code, tests) refers to the team's notes outside it;
* every `custodian COMMAND ...` they name is a command the CLI has;
* the exit codes the README documents are the CLI's.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted([ROOT / "README.md", ROOT / "ceremonies" / "README.md", ROOT / "bench" / "README.md",
               *(ROOT / "docs").glob("*.md")])
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
COMMAND = re.compile(r"`custodian((?: [a-z][a-z0-9-]*)+)")


def _ids(paths):
    return [str(p.relative_to(ROOT)) for p in paths]


@pytest.mark.parametrize("doc", DOCS, ids=_ids(DOCS))
def test_links_stay_inside_the_repository(doc: Path):
    text = doc.read_text(encoding="utf-8")
    for target in LINK.findall(text):
        if target.startswith(("http://", "https://", "mailto:", "#")):
            continue
        path = (doc.parent / target.split("#", 1)[0]).resolve()
        assert path.is_relative_to(ROOT) and path.exists(), f"{doc.name}: link {target} leaves the repository or is dead"


def _tracked() -> list[Path]:
    import subprocess

    done = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True)
    if done.returncode != 0:  # not a git checkout (an unpacked sdist): every file but the venv
        return [p for p in ROOT.rglob("*") if p.is_file() and ".venv" not in p.parts and ".git" not in p.parts]
    return [ROOT / name for name in done.stdout.decode().split("\0") if name and (ROOT / name).is_file()]


def test_nothing_in_the_repository_points_at_the_team_notes():
    offenders = []
    for path in _tracked():
        if path.suffix not in {".md", ".py", ".toml", ".sh", ".txt", ".tcss"} and path.name not in {"run", "console", "test"}:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        needle = "shared/" + "DESIGN"  # split so this file does not match itself
        if needle in text or "../" + "shared" in text or "/work/" + "shared" in text or "/work/" + "brief" in text:
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def _command_paths(parser, prefix=()):
    import argparse

    out = {prefix}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out |= _command_paths(sub, prefix + (name,))
    return out


def test_every_command_the_docs_name_exists():
    from console.cli import build_parser

    known = _command_paths(build_parser())
    missing = []
    for doc in DOCS:
        for match in COMMAND.findall(doc.read_text(encoding="utf-8")):
            words = tuple(match.split())
            # the longest known prefix must be the command (the rest are arguments: NAME, ID, FILE...)
            if not any(words[:n] in known and n > 0 for n in range(1, len(words) + 1)) and words[0] not in ("tui",):
                missing.append(f"{doc.relative_to(ROOT)}: custodian {' '.join(words)}")
    assert missing == []


def test_the_readme_documents_the_exit_codes():
    from console import cli

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("Exit status"):]
    for code in (cli.EXIT_OK, cli.EXIT_FAILED, cli.EXIT_ERROR, cli.EXIT_INTERNAL, cli.EXIT_INTERRUPTED):
        assert re.search(rf"\b{code}\b", section[:1500]), code
