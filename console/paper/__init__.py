"""Paper for the binder, as PDF (fpdf2): the ceremony script, a transcript, a blank share card.

Each file is written once through vault.backup.outfile.WriteOnceFile (never over an existing
file, never half-written) and read back. Only non-secret records go on paper: a share card is
printed blank, for the custodian to fill in by hand at the reveal.
"""

from console.paper.script import script_pdf
from console.paper.share_card import share_card_pdf
from console.paper.transcript import transcript_pdf

__all__ = ["script_pdf", "share_card_pdf", "transcript_pdf"]
