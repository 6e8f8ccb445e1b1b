"""Paper for the binder (issue 11, item 7): the ceremony script, a transcript and a blank share card
as PDF. Each PDF is read back as text (pypdf) and its first page rendered to PNG (pdftoppm) to
check it is not blank; files are written once and never overwritten."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader

from console.cli import main as custodian

needs_poppler = pytest.mark.skipif(shutil.which("pdftoppm") is None,
                                   reason="pdftoppm (poppler-utils) missing: scripts/setup.sh installs it")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = custodian(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(str(path)).pages)


def first_page_ink(path: Path, tmp: Path) -> float:
    """The share of non-white pixels on page 1 rendered at 40 dpi."""
    subprocess.run(["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "1", "-singlefile", str(path),
                    str(tmp / "page")], check=True, capture_output=True)
    img = Image.open(tmp / "page.png").convert("L")
    hist = img.histogram()  # 256 grey levels
    return sum(hist[:200]) / sum(hist)


@needs_poppler
def test_ceremony_show_pdf_is_the_paper_script(tmp_path, capsys):
    out = tmp_path / "init-script.pdf"
    assert run(capsys, "--home", str(tmp_path / "home"), "home", "init")[0] == 0
    code, stdout, err = run(capsys, "--home", str(tmp_path / "home"), "ceremony", "show", "init", "--pdf", str(out))
    assert code == 0, err
    text = pdf_text(out)
    for expected in ("PRACTICE", "Ceremony script", "(init)", "Check the air gap", "initials", "Signatures",
                     "Deviations"):
        assert expected in text, expected
    assert 0.01 < first_page_ink(out, tmp_path) < 0.6
    # written once: a second run refuses and leaves the file as it was
    before = out.read_bytes()
    code, _, err = run(capsys, "--home", str(tmp_path / "home"), "ceremony", "show", "init", "--pdf", str(out))
    assert code != 0 and err.count("\n") == 1 and "OUTPUT_EXISTS" in err
    assert out.read_bytes() == before


@needs_poppler
def test_a_blank_share_card_has_33_numbered_boxes_and_the_set_fields(tmp_path, capsys):
    out = tmp_path / "card.pdf"
    assert run(capsys, "--home", str(tmp_path / "home"), "home", "init")[0] == 0
    code, _, err = run(capsys, "--home", str(tmp_path / "home"), "share-card", "--pdf", str(out), "--set-words", "warmth aquatic",
                       "--custodian", "alice", "--member", "1", "--group", "1", "--serial", "ENV-0042")
    assert code == 0, err
    text = pdf_text(out)
    for expected in ("SLIP-39 share card", "warmth aquatic", "alice", "ENV-0042", "Envelope serial", "Date",
                     "set word"):
        assert expected in text, expected
    numbers = {int(tok) for tok in text.split() if tok.isdigit()}
    assert set(range(1, 34)) <= numbers
    assert len(PdfReader(str(out)).pages) == 1
    assert first_page_ink(out, tmp_path) > 0.01


@needs_poppler
def test_transcript_pdf_of_a_real_ceremony(initialised, tmp_path, capsys):
    from vault.vault import Vault

    vault = Vault.open(initialised.home)
    try:
        ceremony = next(c for c in vault.store.list_ceremonies() if c.definition_name == "init")
        closing = [r for r in vault.store.ledger_rows_of_ceremony(ceremony.id) if r.action == "ceremony.closing"][0]
    finally:
        vault.close()
    out = tmp_path / "transcript.pdf"
    code, _, err = run(capsys, "--home", str(initialised.home), "transcript", ceremony.id, "--format", "pdf",
                       "--out", str(out))
    assert code == 0, err
    text = pdf_text(out)
    assert f"Ceremony transcript: init ({ceremony.id})" in text and "Status: completed" in text
    assert "the seal: every attestation signs it" in text
    assert " ".join(closing.hash[i:i + 4] for i in range(0, 16, 4)) in text  # grouped in fours
    assert "Attestations" in text and "wendy" in text
    assert first_page_ink(out, tmp_path) > 0.01
    # markdown and json export too, each to a new file
    for fmt in ("md", "json"):
        code, _, err = run(capsys, "--home", str(initialised.home), "transcript", ceremony.id, "--format", fmt,
                           "--out", str(tmp_path / f"t.{fmt}"))
        assert code == 0, err
    assert (tmp_path / "t.json").read_text().startswith("{")
    code, _, err = run(capsys, "--home", str(initialised.home), "transcript", ceremony.id, "--format", "pdf")
    assert code != 0 and "--out" in err
