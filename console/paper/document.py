"""The common page: the PRACTICE / PRODUCTION banner on every page, page numbers, fonts, and
writing the finished file once.

Fonts: DejaVu Sans (and Mono for hashes) when installed (Debian: fonts-dejavu-core, installed by
scripts/setup.sh), so that ✓, → and quotes print; otherwise the PDF core fonts, with the text
folded to Latin-1 (``→`` becomes ``->``) rather than failing.
"""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF

from vault.backup.outfile import output_failed

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
_FOLD = {"→": "->", "✓": "v", "✗": "x", "“": '"', "”": '"', "‘": "'", "’": "'", "—": "-", "–": "-", "…": "...",
         "·": "-", "▶": ">", "■": "#", "□": "o", "•": "*"}


def _font_dir() -> Path | None:
    return next((d for d in FONT_DIRS if (d / "DejaVuSans.ttf").exists() and (d / "DejaVuSansMono.ttf").exists()),
                None)


class Paper(FPDF):
    """A4 portrait, 15 mm margins, a banner line on top of every page."""

    def __init__(self, *, banner: str, title: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.banner, self.doc_title = banner, title
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(True, margin=15)
        self.set_title(title)
        self.set_creator("custodian console")
        fonts = _font_dir()
        self.unicode = fonts is not None
        if fonts is not None:
            self.add_font("body", "", str(fonts / "DejaVuSans.ttf"))
            self.add_font("body", "B", str(fonts / "DejaVuSans-Bold.ttf"))
            self.add_font("mono", "", str(fonts / "DejaVuSansMono.ttf"))
            self.add_font("mono", "B", str(fonts / "DejaVuSansMono-Bold.ttf"))
        self.body, self.mono = ("body", "mono") if fonts is not None else ("Helvetica", "Courier")

    def t(self, text: str) -> str:
        """Text as the fonts can print it."""
        if self.unicode:
            return text
        for a, b in _FOLD.items():
            text = text.replace(a, b)
        return text.encode("latin-1", "replace").decode("latin-1")

    def header(self) -> None:
        self.set_font(self.body, "B", 9)
        self.set_fill_color(255, 175, 0) if self.banner == "PRACTICE" else self.set_fill_color(255, 95, 95)
        self.cell(0, 6, self.t(f" {self.banner} · {self.doc_title}"), fill=True, new_x="LMARGIN", new_y="NEXT")
        self.ln(3)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.body, "", 8)
        self.cell(0, 5, self.t(f"{self.doc_title} · page {self.page_no()}/{{nb}}"), align="C")

    # -- small building blocks -------------------------------------------------------------------
    def heading(self, text: str, size: int = 14) -> None:
        self.set_font(self.body, "B", size)
        self.multi_cell(0, size * 0.5, self.t(text), new_x="LMARGIN", new_y="NEXT")
        self.ln(2)

    def para(self, text: str, size: int = 10, *, mono: bool = False, bold: bool = False) -> None:
        self.set_font(self.mono if mono else self.body, "B" if bold else "", size)
        self.multi_cell(0, size * 0.5, self.t(text), new_x="LMARGIN", new_y="NEXT")
        self.ln(1)

    def rule_line(self, label: str) -> None:
        """A labelled line to write on by hand."""
        self.set_font(self.body, "", 10)
        self.cell(60, 9, self.t(label))
        x, y = self.get_x(), self.get_y() + 7
        self.line(x, y, self.w - self.r_margin, y)
        self.ln(10)


def write_pdf(doc: Paper, path: Path) -> Path:
    """Write ``doc`` to ``path`` once (never overwriting) and read it back; the path written."""
    return write_bytes(bytes(doc.output()), path)


def write_bytes(data: bytes, path: Path) -> Path:
    """Any paper (PDF, markdown, JSON) to a new file: vault.backup.outfile.write_new_file (0600, never
    over an existing file or through a symlink), then read back."""
    from vault.backup.outfile import write_new_file

    path = write_new_file(Path(path), data)
    try:
        ok = Path(path).read_bytes() == data
    except OSError as e:
        raise output_failed(Path(path), "Reading back", e) from None
    if not ok:
        raise output_failed(Path(path), "Reading back")
    return Path(path)
