"""Hostile attachments (issue 22): PDFs built to take minutes or to break pypdf's limits,
encrypted PDFs, files whose name lies about their kind, binary "text". Each bad file in a
drop is reported by name and the rest still attach; a PDF's text is read within a budget.
"""

from __future__ import annotations

import re
import threading
import time
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from app.core.chat.attachments import (
    AttachmentError,
    cut_note,
    pdf_text,
    read_attachment,
    read_attachments,
)
from tests.helpers.files import (
    write_encrypted_pdf,
    write_pdf,
    write_png,
    write_shared_stream_pdf,
)

if TYPE_CHECKING:
    from tests.reliability.conftest import Tally

pytestmark = [pytest.mark.reliability("text")]

LINE = b"BT /F1 12 Tf 72 720 Td (tide) Tj ET\n"


def test_a_pdf_of_pages_sharing_one_huge_stream_is_read_within_its_budget(
    tmp_path: Path,
) -> None:
    # 40 pages share one stream; unbudgeted this takes tens of seconds.
    pdf = write_shared_stream_pdf(tmp_path / "slow.pdf", 40, LINE * 6000)
    started = time.monotonic()
    text = pdf_text("slow.pdf", pdf.read_bytes(), seconds=0.5)
    assert time.monotonic() - started < 8
    assert text.startswith("tide") and "tide" * 3 in text
    assert re.search(r"\[slow.pdf was cut: Parley read \d+ of 40 pages", text)
    assert "longer than 0.5 seconds" in text


def test_a_pdf_is_cut_at_the_size_budget_and_still_attaches(tmp_path: Path) -> None:
    pdf = write_shared_stream_pdf(tmp_path / "long.pdf", 6, LINE * 200)
    text = pdf_text("long.pdf", pdf.read_bytes(), max_chars=1500)
    assert len(text) <= 1500 and "more than 1,500 characters" in text


def test_reading_a_pdf_stops_when_cancelled_keeping_what_was_read(tmp_path: Path) -> None:
    pdf = write_shared_stream_pdf(tmp_path / "slow.pdf", 200, LINE * 3000)
    cancel = threading.Event()
    timer = threading.Timer(0.3, cancel.set)
    timer.start()
    try:
        started = time.monotonic()
        text = pdf_text("slow.pdf", pdf.read_bytes(), cancel)
    finally:
        timer.cancel()
        timer.join()
    assert time.monotonic() - started < 8
    assert "reading was cancelled" in text and text.startswith("tide")


def test_one_bad_file_in_a_drop_is_named_and_the_rest_attach(
    tmp_path: Path, tally: Tally, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = tmp_path / "notes.txt"
    good.write_text("keep the lamp lit", encoding="utf-8")
    # 90 MB of spaces in one 90 KB stream: over pypdf's 75 MB decompression limit.
    limit = write_shared_stream_pdf(tmp_path / "bomb.pdf", 1, b" " * 90_000_000)
    fake = tmp_path / "photo.png"
    fake.write_bytes(b"this is not a picture")
    nul = tmp_path / "data.txt"
    nul.write_bytes(b"a" * 10_000 + b"\x00" + b"b" * 10)
    utf16_nul = tmp_path / "wide.txt"
    utf16_nul.write_bytes("ok\x00no".encode("utf-16"))
    picture = write_png(tmp_path / "chart.png")
    disguised = tmp_path / "really-a-png.jpg"
    disguised.write_bytes(picture.read_bytes())
    batch = read_attachments([good, limit, fake, nul, utf16_nul, picture, disguised])
    names = [a.name for a in batch.attachments]
    assert names == ["notes.txt", "chart.png", "really-a-png.jpg"]
    assert batch.attachments[2].mime == "image/png"  # its bytes, not its name, say what it is
    bad = ["bomb.pdf", "photo.png", "data.txt", "wide.txt"]
    for name in bad:
        found = [p for p in batch.problems if p.startswith(name)]
        tally.case(lost=len(found) != 1, note=f"{name}: {batch.problems}")
    assert len(batch.problems) == len(bad)
    assert all("went wrong" not in p for p in batch.problems)
    tally.check()


def test_an_aes_encrypted_pdf_reads_and_without_aes_support_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = write_encrypted_pdf(tmp_path / "locked.pdf", "Tides under lock")
    assert "Tides under lock" in read_attachment(secret).text
    # Where AES support is missing, pypdf raises DependencyError: that file is named, and
    # the rest of the drop still attaches.
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    def no_aes(_self: PdfReader, _password: str) -> None:
        raise DependencyError("cryptography>=3.1 is required for AES algorithm")

    monkeypatch.setattr(PdfReader, "decrypt", no_aes)
    plain = write_pdf(tmp_path / "open.pdf", ["In the clear"])
    batch = read_attachments([secret, plain])
    assert [a.name for a in batch.attachments] == ["open.pdf"]
    (problem,) = batch.problems
    assert problem.startswith("locked.pdf is encrypted") and "unencrypted copy" in problem


def test_pypdf_is_declared_with_its_crypto_extra() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert any(d.startswith("pypdf[crypto]") for d in pyproject["project"]["dependencies"])


def test_an_unexpected_error_in_one_file_loses_only_that_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import app.core.chat.attachments as attachments

    real = attachments.decode_text

    def broken(name: str, raw: bytes) -> str:
        if name == "boom.txt":
            raise RuntimeError("a bug")
        return real(name, raw)

    monkeypatch.setattr(attachments, "decode_text", broken)
    (tmp_path / "boom.txt").write_text("x", encoding="utf-8")
    (tmp_path / "fine.txt").write_text("y", encoding="utf-8")
    batch = read_attachments([tmp_path / "boom.txt", tmp_path / "fine.txt"])
    assert [a.name for a in batch.attachments] == ["fine.txt"]
    assert batch.problems[0].startswith("Something went wrong reading boom.txt")
    assert "a bug" in caplog.text


def test_cut_note_names_the_cut(tmp_path: Path) -> None:
    pdf = write_shared_stream_pdf(tmp_path / "long.pdf", 6, LINE * 200)
    from app.core.chat.attachments import text_attachment

    text = pdf_text("long.pdf", pdf.read_bytes(), max_chars=1500)
    attachment = text_attachment("long.pdf", text, "application/pdf")
    note = cut_note(attachment)
    assert note is not None and note.startswith("long.pdf was cut")
    with pytest.raises(AttachmentError):
        pdf_text("empty.pdf", write_pdf(tmp_path / "e.pdf", []).read_bytes())

