"""The fax engine from the command line: render a PDF, fax it through a loopback, the demo."""

from __future__ import annotations

import dataclasses
import enum
import os
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import click

from faxcast.config import Settings
from faxcast.documents import (
    DocumentLimits,
    FaxPage,
    preview_png,
    read_tiff_f,
    render_pdf,
    write_tiff_f,
)
from faxcast.documents.header import HeaderLine
from faxcast.domain.quality import Quality
from faxcast.domain.station import StationIdentity
from faxcast.fax.engine import Outgoing
from faxcast.fax.loopback import LoopbackResult, loopback
from faxcast.fax.result import FaxResult
from faxcast.i18n import environment_language
from faxcast.services.documents import PDF, identify_file

_QUALITY = click.Choice([q.value for q in Quality])
_DEFAULT_ZONE = Settings.model_fields["default_timezone"].default


@click.group()
def fax() -> None:
    """The fax engine on its own: render documents, fax them through a loopback."""


@fax.command()
@click.argument("pdf", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--quality", type=_QUALITY, default=Quality.HIGH.value, show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="TIFF-F file to write.",
)
@click.option(
    "--previews",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write a PNG of each page, as the recipient will see it, in this folder.",
)
def render(pdf: Path, quality: str, output: Path, previews: Path | None) -> None:
    """Render PDF to the TIFF-F faxcast would send."""
    document = render_pdf(_pdf_bytes(pdf), Quality(quality).profile.resolution)
    output.write_bytes(write_tiff_f(document))
    if previews is not None:
        _write_previews(read_tiff_f(output.read_bytes()).pages, previews)
    click.echo(f"{output}: {len(document.pages)} pages, {document.resolution.value} resolution")


@fax.command(name="loopback")
@click.argument("pdf", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--quality", type=_QUALITY, default=Quality.HIGH.value, show_default=True)
@click.option("--t38", is_flag=True, help="Carry the fax as T.38 packets instead of audio.")
@click.option("--no-ecm", is_flag=True, help="Turn error correction off.")
@click.option(
    "-o",
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("faxcast-loopback"),
    show_default=True,
    help="Where the received TIFF and its PNG pages go.",
)
@click.option("--ident", default="+00 000 000 000", show_default=True, help="Our TSI.")
@click.option("--header", default="faxcast", show_default=True, help="Page header line.")
@click.option(
    "--timezone",
    default=_DEFAULT_ZONE,
    show_default=True,
    help="IANA time zone of the header's time (its language is the locale's).",
)
def loopback_command(
    pdf: Path,
    quality: str,
    t38: bool,
    no_ecm: bool,
    out_dir: Path,
    ident: str,
    header: str,
    timezone: str,
) -> None:
    """Fax PDF to an in-memory fax machine and show what both ends saw."""
    result = _fax_through_loopback(
        _pdf_bytes(pdf),
        Quality(quality),
        out_dir,
        t38=t38,
        ecm=not no_ecm,
        identity=StationIdentity(ident, header),
        timezone=timezone,
    )
    if not result.sender.success:
        sys.exit(1)


@click.command()
@click.option(
    "-o",
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("faxcast-demo"),
    show_default=True,
)
def demo(out_dir: Path) -> None:
    """Fax the bundled sample document through the loopback and show the result."""
    sample = resources.files("faxcast").joinpath("samples/demo.pdf").read_bytes()
    result = _fax_through_loopback(
        sample,
        Quality.HIGH,
        out_dir,
        t38=False,
        ecm=True,
        identity=StationIdentity("+00 000 000 000", "faxcast demo"),
        timezone=_DEFAULT_ZONE,
    )
    if not result.sender.success:
        sys.exit(1)


def _pdf_bytes(path: Path) -> bytes:
    """The file's bytes once it is found to be a PDF, as an upload would be (identify_file)."""
    limits = DocumentLimits()
    with path.open("rb") as file:
        data = file.read(limits.max_bytes + 1)
    identify_file(data, limits=limits, name=path.name, expect=PDF, size=path.stat().st_size)
    return data


def _fax_through_loopback(
    pdf: bytes,
    quality: Quality,
    out_dir: Path,
    *,
    t38: bool,
    ecm: bool,
    identity: StationIdentity,
    timezone: str,
) -> LoopbackResult:
    profile = dataclasses.replace(quality.profile, ecm=ecm)
    document = render_pdf(pdf, profile.resolution)
    out_dir.mkdir(parents=True, exist_ok=True)
    received = out_dir / "received.tif"
    with tempfile.TemporaryDirectory(prefix="faxcast-") as scratch:
        sent = Path(scratch) / "sent.tif"
        sent.write_bytes(write_tiff_f(document))
        outgoing = Outgoing.from_file(sent)
        header = HeaderLine.of(identity, timezone, environment_language(os.environ))
        if header is not None:
            headed = Path(scratch) / "headed.tif"
            outgoing = outgoing.with_header(header, datetime.now(UTC), headed)
        click.echo(
            f"faxing {len(document.pages)} pages, {quality.value} quality, "
            f"{'T.38' if t38 else 'audio'}, {'ECM' if ecm else 'no ECM'}...",
            err=True,
        )
        # Paced: T.38's line time is a real call's, not how fast the CPU passes packets.
        result = loopback(
            outgoing,
            received,
            profile,
            t38=t38,
            paced=True,
            sender_identity=identity,
            receiver_identity=StationIdentity("+00 999 999 999"),
        )
    click.echo(_describe("sender", result.sender))
    click.echo(_describe("receiver", result.receiver))
    if result.receiver.pages_transferred:
        pngs = _write_previews(read_tiff_f(received.read_bytes()).pages, out_dir)
        click.echo(f"received: {received} and {len(pngs)} PNG pages in {out_dir}")
    return result


def _describe(end: str, result: FaxResult) -> str:
    fields = dataclasses.asdict(result)
    lines = [f"{end}: {result.summary()}"]
    lines += [f"  {name}: {_plain(value)}" for name, value in fields.items()]
    return "\n".join(lines)


def _plain(value: object) -> str:
    if isinstance(value, enum.IntEnum):
        return f"{value.name} ({int(value)})"
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)


def _write_previews(pages: Sequence[FaxPage], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for number, page in enumerate(pages, start=1):
        path = folder / f"page-{number}.png"
        path.write_bytes(preview_png(page))
        written.append(path)
    return written
