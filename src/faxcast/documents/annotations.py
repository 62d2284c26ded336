"""Annotations PDFium leaves undrawn: lines, polylines, polygons and ink without an appearance.

A PDF may give a markup annotation only its geometry and leave the appearance to the viewer.
Ghostscript and pdf.js draw such lines, polylines, polygons and freehand ink from it. PDFium
draws no line, polyline or polygon, and draws ink through an appearance it makes clipped to the
annotation's /Rect, so ink drawn outside it vanishes (the corpus's
letter-text-nonembedded-fonts.pdf loses eight arrows, zigzags and scribbles). Before a page is
rendered, each of those becomes a stroked path on the page, in memory only, and the annotation
goes so that PDFium cannot draw it twice.

What the API does not expose is left out: line endings (arrowheads) and the border style
dictionary's width (/BS /W); the stroke is /Border's width, else the PDF default of 1 point.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator

import pypdfium2.raw as pdfium_c

Points = list[tuple[float, float]]

_SHAPES = frozenset(
    {
        pdfium_c.FPDF_ANNOT_LINE,
        pdfium_c.FPDF_ANNOT_POLYLINE,
        pdfium_c.FPDF_ANNOT_POLYGON,
        pdfium_c.FPDF_ANNOT_INK,
    }
)
_EMPTY_AP = 2
"""FPDFAnnot_GetAP's answer, in bytes, when there is no appearance: the UTF-16 terminator."""
_DEFAULT_WIDTH = 1.0
_MAX_POINTS = 100_000
"""Points read from one annotation at most: a bound on what a hostile file can make us draw."""
_FULL = 255


def draw_bare_annotations(page: pdfium_c.FPDF_PAGE) -> None:
    """Turn the page's appearance-less line, polyline, polygon and ink annotations into
    stroked paths; PDFium's lock must be held."""
    # Backwards, so that removing one leaves the indices still to visit unchanged.
    for index in reversed(range(pdfium_c.FPDFPage_GetAnnotCount(page))):
        annot = pdfium_c.FPDFPage_GetAnnot(page, index)
        if not annot:
            continue
        try:
            drawn = _draw(page, annot)
        finally:
            pdfium_c.FPDFPage_CloseAnnot(annot)
        if drawn:
            pdfium_c.FPDFPage_RemoveAnnot(page, index)


def _draw(page: pdfium_c.FPDF_PAGE, annot: pdfium_c.FPDF_ANNOTATION) -> bool:
    """Add the annotation's strokes to the page; whether it was one to draw."""
    subtype = pdfium_c.FPDFAnnot_GetSubtype(annot)
    if subtype not in _SHAPES:
        return False
    mode = pdfium_c.FPDF_ANNOT_APPEARANCEMODE_NORMAL
    if pdfium_c.FPDFAnnot_GetAP(annot, mode, None, 0) > _EMPTY_AP:
        return False
    if pdfium_c.FPDFAnnot_GetFlags(annot) & pdfium_c.FPDF_ANNOT_FLAG_HIDDEN:
        return False
    red, green, blue, alpha = (ctypes.c_uint() for _ in range(4))
    colour_type = pdfium_c.FPDFANNOT_COLORTYPE_Color
    if not pdfium_c.FPDFAnnot_GetColor(annot, colour_type, red, green, blue, alpha):
        return False  # no /C: the annotation is drawn in no colour at all
    opacity = ctypes.c_float(1.0)
    if not pdfium_c.FPDFAnnot_GetNumberValue(annot, b"CA", opacity):
        opacity.value = 1.0
    shown = round(alpha.value * min(1.0, max(0.0, opacity.value)))
    width = _border_width(annot)
    strokes = list(_strokes(annot, subtype))
    if subtype == pdfium_c.FPDF_ANNOT_INK and _inside_rect(annot, strokes, width):
        return False  # PDFium's own appearance shows it whole, with its /BS width
    for points in strokes:
        path = pdfium_c.FPDFPageObj_CreateNewPath(*points[0])
        for x, y in points[1:]:
            pdfium_c.FPDFPath_LineTo(path, x, y)
        if subtype == pdfium_c.FPDF_ANNOT_POLYGON:
            pdfium_c.FPDFPath_Close(path)
        pdfium_c.FPDFPageObj_SetStrokeColor(path, red.value, green.value, blue.value, shown)
        pdfium_c.FPDFPageObj_SetStrokeWidth(path, width)
        pdfium_c.FPDFPageObj_SetLineCap(path, pdfium_c.FPDF_LINECAP_ROUND)
        pdfium_c.FPDFPageObj_SetLineJoin(path, pdfium_c.FPDF_LINEJOIN_ROUND)
        pdfium_c.FPDFPath_SetDrawMode(path, pdfium_c.FPDF_FILLMODE_NONE, True)
        pdfium_c.FPDFPage_InsertObject(page, path)  # the page owns it from here
    return True


def _inside_rect(annot: pdfium_c.FPDF_ANNOTATION, strokes: list[Points], width: float) -> bool:
    """Whether every point lies within the annotation's /Rect, as PDFium's clip will show it."""
    rect = pdfium_c.FS_RECTF()
    if not pdfium_c.FPDFAnnot_GetRect(annot, rect):
        return False
    left, right = sorted((rect.left, rect.right))
    bottom, top = sorted((rect.bottom, rect.top))
    return all(
        left - width <= x <= right + width and bottom - width <= y <= top + width
        for points in strokes
        for x, y in points
    )


def _border_width(annot: pdfium_c.FPDF_ANNOTATION) -> float:
    horizontal, vertical, width = (ctypes.c_float() for _ in range(3))
    if pdfium_c.FPDFAnnot_GetBorder(annot, horizontal, vertical, width) and width.value >= 0:
        return float(width.value)
    return _DEFAULT_WIDTH


def _strokes(annot: pdfium_c.FPDF_ANNOTATION, subtype: int) -> Iterator[Points]:
    """The annotation's polylines, in page space, each of two points or more."""
    if subtype == pdfium_c.FPDF_ANNOT_LINE:
        start, end = pdfium_c.FS_POINTF(), pdfium_c.FS_POINTF()
        if pdfium_c.FPDFAnnot_GetLine(annot, start, end):
            yield [(start.x, start.y), (end.x, end.y)]
        return
    if subtype == pdfium_c.FPDF_ANNOT_INK:
        budget = _MAX_POINTS
        for index in range(pdfium_c.FPDFAnnot_GetInkListCount(annot)):
            count = pdfium_c.FPDFAnnot_GetInkListPath(annot, index, None, 0)
            budget -= count
            if budget < 0:
                return
            buffer = (pdfium_c.FS_POINTF * count)()
            if count >= 2 and pdfium_c.FPDFAnnot_GetInkListPath(annot, index, buffer, count):
                yield [(point.x, point.y) for point in buffer]
        return
    count = pdfium_c.FPDFAnnot_GetVertices(annot, None, 0)
    buffer = (pdfium_c.FS_POINTF * count)()
    if 2 <= count <= _MAX_POINTS and pdfium_c.FPDFAnnot_GetVertices(annot, buffer, count):
        yield [(point.x, point.y) for point in buffer]
