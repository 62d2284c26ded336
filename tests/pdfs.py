"""Test PDFs written in code: text, line art, photos, landscape, encrypted; no files needed.

Every function returns the bytes of a small, valid PDF made by a minimal writer below (standard
Helvetica fonts, Flate-compressed images, RC4 encryption when asked). The output is
deterministic: the same call gives the same bytes (with the same zlib).
"""

from __future__ import annotations

import hashlib
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

A4 = (595.28, 841.89)
LETTER = (612.0, 792.0)

PHOTO_BOX = (72.0, 400.0, 372.0, 600.0)
"""Where photo_pdf() draws its image, in PDF points (left, bottom, right, top) on A4."""

LOREM = (
    "Faxcast sends one document to many fax numbers and tracks every delivery. Each page "
    "is rendered to 1728 pixels across, turned into black and white and sent over the "
    "phone line with the T.30 protocol. The quick brown fox jumps over the lazy dog; "
    "pack my box with five dozen liquor jugs. 0123456789 (+33) 1 23 45 67 89."
)


@dataclass
class Page:
    """One page to write: its size, its content stream, the images it draws and /Rotate."""

    size: tuple[float, float] = A4
    content: list[str] = field(default_factory=list)
    images: dict[str, Raster] = field(default_factory=dict)
    rotate: int = 0

    def text(self, x: float, y: float, size: float, line: str, *, bold: bool = False) -> None:
        font = "F2" if bold else "F1"
        self.content.append(f"BT /{font} {size:g} Tf {x:g} {y:g} Td ({_escape(line)}) Tj ET")

    def paragraph(self, x: float, top: float, size: float, text: str, width: float) -> float:
        """Wrap text into lines about `width` points wide; returns the y under the last line."""
        per_line = max(1, int(width / (size * 0.45)))  # Helvetica averages under 0.5 em
        line, y = "", top
        for word in text.split():
            if line and len(line) + 1 + len(word) > per_line:
                self.text(x, y, size, line)
                line, y = word, y - size * 1.35
            else:
                line = f"{line} {word}".strip()
        if line:
            self.text(x, y, size, line)
            y -= size * 1.35
        return y

    def rectangle(
        self,
        x: float,
        y: float,
        w: float,
        h: float,
        *,
        grey: float | None = None,
        line_width: float = 1.0,
    ) -> None:
        if grey is None:
            self.content.append(f"{line_width:g} w {x:g} {y:g} {w:g} {h:g} re S")
        else:
            self.content.append(f"{grey:g} g {x:g} {y:g} {w:g} {h:g} re f 0 g")

    def line(self, x0: float, y0: float, x1: float, y1: float, *, width: float = 1.0) -> None:
        self.content.append(f"{width:g} w {x0:g} {y0:g} m {x1:g} {y1:g} l S")

    def circle(self, cx: float, cy: float, r: float, *, width: float = 1.0) -> None:
        k = r * 4 * (math.sqrt(2) - 1) / 3  # Bezier handle length for a quarter circle
        self.content.append(
            f"{width:g} w {cx + r:g} {cy:g} m "
            f"{cx + r:g} {cy + k:g} {cx + k:g} {cy + r:g} {cx:g} {cy + r:g} c "
            f"{cx - k:g} {cy + r:g} {cx - r:g} {cy + k:g} {cx - r:g} {cy:g} c "
            f"{cx - r:g} {cy - k:g} {cx - k:g} {cy - r:g} {cx:g} {cy - r:g} c "
            f"{cx + k:g} {cy - r:g} {cx + r:g} {cy - k:g} {cx + r:g} {cy:g} c S"
        )

    def image(self, name: str, image: Raster, box: tuple[float, float, float, float]) -> None:
        left, bottom, right, top = box
        self.images[name] = image
        self.content.append(
            f"q {right - left:g} 0 0 {top - bottom:g} {left:g} {bottom:g} cm /{name} Do Q"
        )


@dataclass(frozen=True)
class Raster:
    """Raw 8-bit pixels, grey (h, w) or RGB (h, w, 3)."""

    pixels: np.ndarray


def text_pdf(pages: int = 1, size: tuple[float, float] = A4) -> bytes:
    """Pages of real text in Helvetica: a big title and readable paragraphs on each."""
    return build_pdf([_text_page(number, pages, size) for number in range(1, pages + 1)])


def short_page_pdf() -> bytes:
    """One page with one title line: the shortest realtime call the sandbox can place."""
    page = Page()
    page.text(72, 760, 28, "faxcast short page", bold=True)
    return build_pdf([page])


def drawing_pdf() -> bytes:
    """Vector line art on A4: boxes, hairlines and thick lines, circles, a grey fill."""
    return build_pdf([_drawing_page()])


def photo_pdf() -> bytes:
    """An A4 page with a captioned photo-like image (colour gradient and noise) in PHOTO_BOX."""
    page = Page()
    page.text(72, 760, 28, "Photo page", bold=True)
    page.image("Im1", gradient_image(480, 320, colour=True), PHOTO_BOX)
    page.text(72, 370, 12, "A smooth colour gradient with noise, as a scanned photo looks.")
    return build_pdf([page])


def landscape_pdf(*, rotated: bool = False) -> bytes:
    """A4 shown landscape: a landscape MediaBox, or (rotated) a portrait one with /Rotate 90."""
    if rotated:
        page = Page(size=A4, rotate=90)
        # Drawn in the unrotated portrait space; /Rotate 90 turns it clockwise for display.
        page.text(200, 700, 36, "Rotated", bold=True)
        page.paragraph(72, 640, 12, LOREM, 450)
        return build_pdf([page])
    page = Page(size=(A4[1], A4[0]))
    page.text(72, 500, 36, "Landscape page", bold=True)
    page.paragraph(72, 440, 12, LOREM, 690)
    page.rectangle(36, 36, A4[1] - 72, A4[0] - 72, line_width=2)
    return build_pdf([page])


def mixed_pdf() -> bytes:
    """Three A4 pages: text; line art with labels; a small photo with text around it.

    The photo is kept small: dithered greys are the costliest thing to fax (a full-page photo
    takes minutes at 9600 bit/s), and loopback tests send this document at every quality.
    """
    photo = Page()
    photo.text(72, 760, 28, "Photo and text", bold=True)
    photo.image("Im1", gradient_image(240, 160, colour=True), (72.0, 520.0, 312.0, 680.0))
    photo.paragraph(330, 670, 11, LOREM, 200)
    photo.paragraph(72, 480, 11, LOREM, 450)
    return build_pdf([_text_page(1, 3, A4), _drawing_page(), photo])


def demo_pdf() -> bytes:
    """The shipped sample (src/faxcast/samples/demo.pdf): a text page, then art and a photo."""
    text = Page()
    text.text(72, 740, 40, "faxcast demo", bold=True)
    bottom = text.paragraph(72, 690, 12, LOREM, 450)
    text.paragraph(
        72,
        bottom - 12,
        12,
        "This page is text only: it is sent crisp, in pure "
        "black and white. The next page has line art and a small photo, which "
        "is dithered so that its greys survive the trip.",
        450,
    )
    art = _drawing_page()
    art.image("Im1", gradient_image(160, 120, colour=False), (110.0, 75.0, 290.0, 210.0))
    art.text(110, 60, 10, "A small photo, dithered.")
    return build_pdf([text, art])


def encrypted_pdf(user_password: str = "secret", owner_password: str = "owner") -> bytes:
    """A text page under RC4 40-bit encryption; an empty user password opens without asking."""
    return build_pdf([_text_page(1, 1, A4)], passwords=(user_password, owner_password))


def empty_pdf() -> bytes:
    """A well-formed PDF whose page tree has no pages."""
    return build_pdf([])


def gradient_image(width: int, height: int, *, colour: bool) -> Raster:
    """A left-to-right ramp (black to white) with a vertical tint and seeded noise."""
    ramp = np.linspace(0.0, 255.0, width)[None, :].repeat(height, axis=0)
    noise = np.random.default_rng(7).normal(0.0, 8.0, (height, width))
    grey = np.clip(ramp + noise, 0, 255)
    if not colour:
        return Raster(grey.astype(np.uint8))
    tint = np.linspace(-40.0, 40.0, height)[:, None]
    rgb = np.stack([grey + tint, grey, grey - tint], axis=2)
    return Raster(np.clip(rgb, 0, 255).astype(np.uint8))


def _text_page(number: int, count: int, size: tuple[float, float]) -> Page:
    width, height = size
    page = Page(size=size)
    page.text(72, height - 110, 36, f"Page {number} of {count}", bold=True)
    y = height - 160
    while y > 140:
        y = page.paragraph(72, y, 12, LOREM, width - 144) - 10
    page.text(72, 60, 9, f"faxcast test document - page {number}")
    return page


def _drawing_page() -> Page:
    page = Page()
    page.text(72, 770, 24, "Line art", bold=True)
    page.rectangle(72, 420, 451, 320, line_width=3)
    for step in range(9):
        x = 100 + step * 45
        page.line(x, 440, x + 40, 720, width=0.25 + step * 0.5)
    page.circle(200, 300, 80, width=2)
    page.circle(200, 300, 40, width=0.5)
    page.rectangle(330, 230, 190, 140, grey=0.6)
    page.rectangle(330, 230, 190, 140, line_width=1)
    page.text(340, 200, 12, "A 60% grey fill, framed")
    return page


# --- the writer -------------------------------------------------------------------------------

_PAD = bytes.fromhex(
    "28bf4e5e4e758a4164004e56fffa01082e2e00b6d0683e802f0ca9fe6453697a"
)  # the password padding of the PDF standard security handler
_FILE_ID = hashlib.md5(b"faxcast test pdf", usedforsecurity=False).digest()
_PERMISSIONS = -4  # everything allowed


def build_pdf(pages: Sequence[Page], *, passwords: tuple[str, str] | None = None) -> bytes:
    """Serialise pages; with passwords (user, owner) encrypt as standard security R2."""
    objects: list[bytes] = []  # object n is objects[n - 1]

    def reserve() -> int:
        objects.append(b"")
        return len(objects)

    catalog, tree, font, bold = reserve(), reserve(), reserve(), reserve()
    encrypt = reserve() if passwords else None
    key = _rc4_key(*passwords) if passwords else None

    def stream(number: int, header: str, data: bytes) -> bytes:
        if key is not None:
            data = _rc4(_object_key(key, number), data)
        return f"<< {header} /Length {len(data)} >>\nstream\n".encode() + data + b"\nendstream"

    kids = []
    for page in pages:
        page_number, content_number = reserve(), reserve()
        xobjects = []
        for name, image in page.images.items():
            number = reserve()
            pixels = image.pixels
            space = "/DeviceRGB" if pixels.ndim == 3 else "/DeviceGray"
            objects[number - 1] = stream(
                number,
                f"/Type /XObject /Subtype /Image /Width {pixels.shape[1]} "
                f"/Height {pixels.shape[0]} /ColorSpace {space} /BitsPerComponent 8 "
                "/Filter /FlateDecode",
                zlib.compress(pixels.tobytes(), 9),
            )
            xobjects.append(f"/{name} {number} 0 R")
        content = zlib.compress("\n".join(page.content).encode("latin-1"), 9)
        objects[content_number - 1] = stream(content_number, "/Filter /FlateDecode", content)
        width, height = page.size
        objects[page_number - 1] = (
            f"<< /Type /Page /Parent {tree} 0 R /MediaBox [0 0 {width:g} {height:g}] "
            f"/Rotate {page.rotate} /Contents {content_number} 0 R /Resources << "
            f"/Font << /F1 {font} 0 R /F2 {bold} 0 R >> "
            f"/XObject << {' '.join(xobjects)} >> >> >>"
        ).encode()
        kids.append(f"{page_number} 0 R")

    objects[catalog - 1] = f"<< /Type /Catalog /Pages {tree} 0 R >>".encode()
    objects[tree - 1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>".encode()
    objects[font - 1] = _font("Helvetica")
    objects[bold - 1] = _font("Helvetica-Bold")
    file_id = _FILE_ID.hex()
    trailer = f"/Size {len(objects) + 1} /Root {catalog} 0 R /ID [<{file_id}> <{file_id}>]"
    if passwords and encrypt and key:
        objects[encrypt - 1] = (
            f"<< /Filter /Standard /V 1 /R 2 /O <{_owner_entry(*passwords).hex()}> "
            f"/U <{_rc4(key, _PAD).hex()}> /P {_PERMISSIONS} >>"
        ).encode()
        trailer += f" /Encrypt {encrypt} 0 R"
    return _serialise(objects, trailer)


def _serialise(objects: list[bytes], trailer: str) -> bytes:
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< {trailer} >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def _font(name: str) -> bytes:
    standard_14 = f"/Type /Font /Subtype /Type1 /BaseFont /{name} /Encoding /WinAnsiEncoding"
    return f"<< {standard_14} >>".encode()


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _padded(password: str) -> bytes:
    return (password.encode("latin-1") + _PAD)[:32]


def _owner_entry(user: str, owner: str) -> bytes:
    """Algorithm 3 (revision 2): the /O value."""
    owner_key = hashlib.md5(_padded(owner or user), usedforsecurity=False).digest()[:5]
    return _rc4(owner_key, _padded(user))


def _rc4_key(user: str, owner: str) -> bytes:
    """Algorithm 2 (revision 2): the 40-bit file key from the user password."""
    digest = hashlib.md5(usedforsecurity=False)
    digest.update(_padded(user))
    digest.update(_owner_entry(user, owner))
    digest.update(_PERMISSIONS.to_bytes(4, "little", signed=True))
    digest.update(_FILE_ID)
    return digest.digest()[:5]


def _object_key(key: bytes, number: int) -> bytes:
    seed = key + number.to_bytes(3, "little") + (0).to_bytes(2, "little")
    return hashlib.md5(seed, usedforsecurity=False).digest()[: len(key) + 5]


def _rc4(key: bytes, data: bytes) -> bytes:
    state = list(range(256))
    j = 0
    for i in range(256):
        j = (j + state[i] + key[i % len(key)]) % 256
        state[i], state[j] = state[j], state[i]
    out = bytearray(len(data))
    i = j = 0
    for n, byte in enumerate(data):
        i = (i + 1) % 256
        j = (j + state[i]) % 256
        state[i], state[j] = state[j], state[i]
        out[n] = byte ^ state[(state[i] + state[j]) % 256]
    return bytes(out)
