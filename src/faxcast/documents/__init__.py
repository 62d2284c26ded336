"""Documents: PDF in, validated bilevel fax pages out, as TIFF-F and PNG previews.

render_pdf and count_pdf_pages run PDFium in a child process with memory and time limits
(isolated.py); documents.pdf holds the same work done in the calling process.
"""

from faxcast.documents.isolated import count_pdf_pages, render_pdf
from faxcast.documents.linebits import line_bits
from faxcast.documents.model import FaxDocument, FaxPage
from faxcast.documents.pdf import looks_like_pdf, too_large
from faxcast.documents.preview import preview_png
from faxcast.documents.tiff import read_tiff_f, write_tiff_f
from faxcast.domain.document_limits import DocumentLimits

__all__ = [
    "DocumentLimits",
    "FaxDocument",
    "FaxPage",
    "count_pdf_pages",
    "line_bits",
    "looks_like_pdf",
    "preview_png",
    "read_tiff_f",
    "render_pdf",
    "too_large",
    "write_tiff_f",
]
