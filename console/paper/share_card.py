"""A blank share card to fill in by hand at the reveal: 33 numbered word boxes, laid out as the
reveal screen shows them (three columns, read down each column), the set's identifying words,
member and group, custodian, envelope serial, date. Nothing secret is printed: only what the
console may know before the share exists (the set words are the same on every share of a set)."""

from __future__ import annotations

from pathlib import Path

from console.paper.document import Paper, write_pdf

WORDS, COLUMNS = 33, 3


def share_card_pdf(path: Path, *, practice: bool = True, set_words: str = "", custodian: str = "",
                   member: str = "", group: str = "", envelope_serial: str = "", date: str = "",
                   ceremony_id: str = "", word_count: int = WORDS) -> Path:
    doc = Paper(banner="PRACTICE" if practice else "PRODUCTION", title="SLIP-39 share card")
    doc.set_auto_page_break(False)
    doc.add_page()
    doc.heading("SLIP-39 share card" + (" (PRACTICE: protects nothing)" if practice else ""))
    doc.para("Write each word of your share in its numbered box, in order, clearly, as the screen shows it. "
             "Check every word again before you confirm. Never photograph or type this card anywhere but the "
             "ceremony console; seal it in its envelope.", 9)
    fields = (("Share set words (1 and 2)", set_words), ("Custodian", custodian), ("Share (member)", member),
              ("Group", group), ("Envelope serial", envelope_serial), ("Date", date), ("Ceremony id", ceremony_id))
    doc.set_font(doc.body, "", 10)
    for label, value in fields:
        doc.cell(50, 8, doc.t(label + ":"))
        x, y = doc.get_x(), doc.get_y()
        doc.set_font(doc.mono, "B", 11)
        doc.cell(0, 8, doc.t(value))
        doc.line(x, y + 7, doc.w - doc.r_margin, y + 7)
        doc.set_font(doc.body, "", 10)
        doc.ln(9)
    doc.ln(3)
    rows = -(-word_count // COLUMNS)
    width = (doc.w - doc.l_margin - doc.r_margin) / COLUMNS
    top, height = doc.get_y(), min(11.0, (doc.h - 25 - doc.get_y()) / rows)
    for i in range(word_count):
        col, row = divmod(i, rows)  # column-major: read down each column, as on the reveal screen
        x, y = doc.l_margin + col * width, top + row * height
        doc.set_xy(x, y)
        doc.set_font(doc.body, "B", 9)
        doc.cell(9, height - 1.5, f"{i + 1:>2}", align="R")
        doc.rect(x + 10, y + 0.5, width - 13, height - 2.5)
        if i < 2:
            doc.set_font(doc.body, "", 6)
            doc.set_xy(x + width - 16, y + 0.6)
            doc.cell(12, 3, doc.t("set word"), align="R")
    doc.set_xy(doc.l_margin, top + rows * height + 3)
    doc.para("Words 1 and 2 are the same on every share of this set: they name the set, not the secret. "
             "Type the share back from this card, not from the screen.", 8)
    return write_pdf(doc, path)
