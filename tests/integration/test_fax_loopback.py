"""Real T.30 calls between two SpanDSP ends in memory, checked pixel by pixel."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image, TiffImagePlugin

from faxcast.documents import FaxDocument, read_tiff_f, render_pdf, write_tiff_f
from faxcast.documents.header import HeaderLine, band_rows
from faxcast.documents.model import ROW_BYTES
from faxcast.domain.outcome import FailureClass
from faxcast.domain.quality import Modem, Quality, Resolution
from faxcast.domain.station import StationIdentity
from faxcast.errors import DocumentError, InputError
from faxcast.fax.engine import AudioFaxSession, Incoming, Outgoing
from faxcast.fax.loopback import LoopbackResult, loopback
from faxcast.fax.result import T30Code
from faxcast.fields import Field
from tests import pdfs
from tests.faxpages import assert_identical

SENDER = StationIdentity("+33 1 23 45 67 89")
RECEIVER = StationIdentity("+1 555 0100")


def _mixed_pdf() -> bytes:
    return pdfs.mixed_pdf()


def _document(tmp_path: Path, pdf: bytes, quality: Quality) -> tuple[Outgoing, FaxDocument]:
    document = render_pdf(pdf, quality.profile.resolution)
    path = tmp_path / "sent.tif"
    path.write_bytes(write_tiff_f(document))
    return Outgoing.from_file(path), document


def _fax(
    tmp_path: Path, pdf: bytes, quality: Quality, *, t38: bool, ecm: bool
) -> tuple[LoopbackResult, FaxDocument, FaxDocument]:
    outgoing, sent = _document(tmp_path, pdf, quality)
    profile = dataclasses.replace(quality.profile, ecm=ecm)
    received_path = tmp_path / "received.tif"
    result = loopback(
        outgoing,
        received_path,
        profile,
        t38=t38,
        sender_identity=SENDER,
        receiver_identity=RECEIVER,
    )
    return result, sent, read_tiff_f(received_path.read_bytes())


@pytest.mark.parametrize("ecm", [True, False], ids=["ecm", "no-ecm"])
@pytest.mark.parametrize("quality", list(Quality), ids=[q.value for q in Quality])
@pytest.mark.parametrize("t38", [False, True], ids=["audio", "t38"])
def test_mixed_document_arrives_identical(
    tmp_path: Path, t38: bool, quality: Quality, ecm: bool
) -> None:
    result, sent, received = _fax(tmp_path, _mixed_pdf(), quality, t38=t38, ecm=ecm)

    for end in (result.sender, result.receiver):
        assert end.success, end.summary()
        assert end.code is T30Code.OK
        assert end.ecm is ecm
        assert end.t38 is t38
        assert end.resolution is quality.profile.resolution
        assert end.pages_confirmed == end.pages_total == len(sent.pages)
        assert end.failure is None
        assert not end.retryable
    expected_rate = 9600 if quality is Quality.BEST else 14400
    assert result.sender.bit_rate == expected_rate
    assert result.sender.remote_ident == RECEIVER.ident
    assert result.receiver.remote_ident == SENDER.ident
    # Unpaced T.38 lets the same exchange finish in a fraction of a simulated second.
    assert (0 < result.sender.duration_s < 5) if t38 else (5 < result.sender.duration_s < 300)
    assert_identical(sent, received)


@pytest.mark.parametrize(
    "make_pdf", [pdfs.text_pdf, pdfs.drawing_pdf, pdfs.photo_pdf], ids=["text", "drawing", "photo"]
)
def test_each_kind_of_page_arrives_identical(tmp_path: Path, make_pdf: Callable[[], bytes]) -> None:
    result, sent, received = _fax(tmp_path, make_pdf(), Quality.HIGH, t38=False, ecm=True)

    assert result.sender.success, result.sender.summary()
    assert_identical(sent, received)


def test_paced_t38_takes_real_line_time(tmp_path: Path) -> None:
    outgoing, sent = _document(tmp_path, pdfs.text_pdf(pages=2), Quality.HIGH)
    received_path = tmp_path / "received.tif"

    result = loopback(outgoing, received_path, Quality.HIGH.profile, t38=True, paced=True)

    assert result.sender.success, result.sender.summary()
    assert 10 < result.sender.duration_s < 120
    assert_identical(sent, read_tiff_f(received_path.read_bytes()))


@pytest.mark.parametrize("quality", [Quality.NORMAL, Quality.HIGH], ids=["normal", "high"])
def test_the_header_line_is_drawn_into_each_page_and_adds_no_row(
    tmp_path: Path, quality: Quality
) -> None:
    outgoing, rendered = _document(tmp_path, pdfs.text_pdf(pages=2), quality)
    identity = StationIdentity("+33 1 23 45 67 89", "Société Générale — Pôle Santé")
    header = HeaderLine(identity, "Europe/Paris", "fr")
    headed = outgoing.with_header(
        header, datetime(2026, 12, 1, 5, 20, tzinfo=UTC), tmp_path / "h.tif"
    )
    received_path = tmp_path / "received.tif"

    result = loopback(headed, received_path, quality.profile, sender_identity=identity)

    assert result.sender.success, result.sender.summary()
    received = read_tiff_f(received_path.read_bytes())
    assert_identical(read_tiff_f(headed.path.read_bytes()), received)
    rows = band_rows(quality.profile.resolution)
    for ours, theirs in zip(rendered.pages, received.pages, strict=True):
        assert theirs.rows == ours.rows  # the header is inside the page
        assert theirs.ink[rows * ROW_BYTES :] == ours.ink[rows * ROW_BYTES :]
        assert any(theirs.ink[: rows * ROW_BYTES]), "the header band has no printed text"


def test_resend_starts_at_the_first_unconfirmed_page(tmp_path: Path) -> None:
    document = render_pdf(pdfs.text_pdf(pages=3), Resolution.FINE)
    path = tmp_path / "sent.tif"
    path.write_bytes(write_tiff_f(document))
    received_path = tmp_path / "received.tif"

    result = loopback(Outgoing.from_file(path, start_page=1), received_path, Quality.HIGH.profile)

    assert result.sender.success
    assert result.sender.pages_confirmed == 3
    assert result.receiver.pages_transferred == 2
    rest = dataclasses.replace(document, pages=document.pages[1:])
    assert_identical(rest, read_tiff_f(received_path.read_bytes()))


def test_call_dropped_during_page_two_is_a_retryable_transfer_failure(tmp_path: Path) -> None:
    outgoing, _ = _document(tmp_path, pdfs.text_pdf(pages=3), Quality.HIGH)
    sender = AudioFaxSession(outgoing, Quality.HIGH.profile, calling=True)
    receiver = AudioFaxSession(
        Incoming(tmp_path / "received.tif"), Quality.HIGH.profile, calling=False
    )
    for _ in range(20_000):
        if sender.pages_confirmed >= 1:
            break
        receiver.receive(sender.transmit())
        sender.receive(receiver.transmit())
    for _ in range(100):  # a couple of seconds into page 2
        receiver.receive(sender.transmit())
        sender.receive(receiver.transmit())

    sender.hang_up()
    receiver.hang_up()

    result = sender.result()
    assert not result.success
    assert result.code is T30Code.CALLDROPPED
    assert result.failure is FailureClass.TRANSFER_FAILED
    assert result.retryable
    assert result.pages_confirmed == 1
    assert result.pages_total == 3


def test_a_silent_line_is_no_fax_answer(tmp_path: Path) -> None:
    outgoing, _ = _document(tmp_path, pdfs.text_pdf(), Quality.NORMAL)
    sender = AudioFaxSession(outgoing, Quality.NORMAL.profile, calling=True)
    silence = bytes([0xD5]) * 160  # A-law zero

    for _ in range(5000):  # 100 s, beyond T0's 60 s
        if sender.done:
            break
        sender.transmit()
        sender.receive(silence)

    result = sender.result()
    assert result.code is T30Code.T0_EXPIRED
    assert result.failure is FailureClass.NO_FAX
    assert 55 < result.duration_s < 70


def test_receiver_without_fast_modems_is_reached_at_a_lower_speed(tmp_path: Path) -> None:
    outgoing, sent = _document(tmp_path, pdfs.text_pdf(), Quality.HIGH)
    slow = dataclasses.replace(Quality.HIGH.profile, modems=(Modem.V27TER,))
    received_path = tmp_path / "received.tif"

    result = loopback(outgoing, received_path, Quality.HIGH.profile, receiver_profile=slow)

    assert result.sender.success
    assert result.sender.bit_rate == 4800
    assert_identical(sent, read_tiff_f(received_path.read_bytes()))


def test_a_broken_tiff_is_refused_before_the_call(tmp_path: Path) -> None:
    document = render_pdf(pdfs.text_pdf(pages=3), Resolution.FINE)
    data = write_tiff_f(document)
    path = tmp_path / "truncated.tif"
    path.write_bytes(data[: len(data) * 2 // 3])

    with pytest.raises(DocumentError):
        Outgoing.from_file(path)


def test_g4_data_garbled_mid_page_is_refused_before_the_call(tmp_path: Path) -> None:
    data = bytearray(write_tiff_f(render_pdf(pdfs.text_pdf(pages=3), Resolution.FINE)))
    with Image.open(path_of(tmp_path, bytes(data))) as image:
        assert isinstance(image, TiffImagePlugin.TiffImageFile)
        image.seek(1)
        offsets, counts = image.tag_v2[273], image.tag_v2[279]
    middle = offsets[0] + counts[0] // 2
    data[middle : middle + 8] = b"\xff" * 8
    path = path_of(tmp_path, bytes(data))
    # Pillow decodes on through libtiff's "Bad code word": only the engine's check sees it.
    assert len(read_tiff_f(bytes(data)).pages) == 3

    with pytest.raises(DocumentError) as refused:
        Outgoing.from_file(path)

    assert refused.value.page == 2
    assert "does not decode" in str(refused.value)


def path_of(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "document.tif"
    path.write_bytes(data)
    return path


def test_start_page_outside_the_document_is_refused(tmp_path: Path) -> None:
    outgoing, _ = _document(tmp_path, pdfs.text_pdf(pages=2), Quality.HIGH)

    with pytest.raises(InputError, match="outside the document's 2 pages"):
        Outgoing.from_file(outgoing.path, start_page=2)


def test_an_unfaxable_identity_is_refused() -> None:
    with pytest.raises(InputError) as too_long:
        StationIdentity("+33 1 23 45 67 89 00 11 22")
    assert too_long.value.field is Field.IDENT
    with pytest.raises(InputError) as accented_ident:
        StationIdentity("+33 1 23 45 67 89 é")
    assert accented_ident.value.field is Field.IDENT
    for undrawable in ("Société 株式会社", "ACME\tParis", "ACME 🙂"):
        with pytest.raises(InputError) as refused:
            StationIdentity("", undrawable)
        assert refused.value.field is Field.HEADER


def test_a_header_may_hold_western_european_accents_and_punctuation() -> None:
    header = "Société Générale — Pôle Santé « Œuvre » 10 €"

    assert StationIdentity("+33 1 23 45 67 89", header).header == header
