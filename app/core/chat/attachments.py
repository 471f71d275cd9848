"""Files a user attaches to a message: text and source files, PDFs and images.

A text file (or a PDF's text, read with `pypdf`) is sent inside the user's
message as a fenced block headed by the file's name, in a fence longer than
any run of backticks in the file, so the file can't close it early. An image
is sent as an image part to targets that take images (`ChatMessage.images`).
What is read is stored with the message (`attachments` table), so the
conversation, its prompt and its exports never depend on the file still
being there.

Errors are `AttachmentError`s that say what to do next; nothing here touches Qt.
`read_attachments` reads a drop of several files and reports each bad one by name while
the rest attach. A PDF's text is read within a time and size budget per file
(`PDF_SECONDS`, `MAX_TEXT_CHARS`): past it, what was read is kept and marked as cut.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from app.core.foundation.errors import ParleyError
from app.core.llm.contract import ImageInput
from app.core.llm.token_estimate import estimate_tokens

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable, Iterable, Sequence
    from pathlib import Path

logger = logging.getLogger(__name__)

AttachmentKind = Literal["text", "image"]

MAX_TEXT_CHARS = 1_000_000  # about 250k tokens: more than any model's context
MAX_FILE_BYTES = 50_000_000
MAX_IMAGE_BYTES = 20_000_000  # OpenAI's limit per image
PDF_SECONDS = 10.0  # per PDF: a crafted one can take minutes a page (one huge shared stream)
IMAGE_TOKENS_ESTIMATE = 765  # OpenAI's high-detail figure for a 1024 px image; an estimate
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
# The media types an image may have anywhere: sent, stored, imported, put in an HTML export.
IMAGE_MIMES = frozenset(IMAGE_TYPES.values())
_BACKTICKS = re.compile(r"`{3,}")


def sniff_image(data: bytes) -> str | None:
    """The media type an image's own bytes declare (PNG, JPEG, GIF, WebP), or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


class AttachmentError(ParleyError):
    """A file can't be attached (unreadable, binary, too big, a PDF without text)."""


@dataclass(frozen=True, slots=True)
class AttachmentBatch:
    """What a drop of files became: the attachments read, and one line per file that wasn't
    (or was only partly) read, each naming its file."""

    attachments: tuple[Attachment, ...] = ()
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())  # files read only in part


@dataclass(frozen=True, slots=True)
class Attachment:
    """One attached file as it is sent and stored.

    `text` holds a text file's contents (or a PDF's text); `data` an image's bytes.
    `tokens` is an estimate for the chip; the context meter counts exactly where it can.
    """

    name: str
    kind: AttachmentKind
    mime: str
    text: str = ""
    data: bytes = b""
    language: str = ""
    tokens: int = 0

    @property
    def is_image(self) -> bool:
        return self.kind == "image"

    def fenced(self) -> str:
        """The block that goes into the message: the name, then the text in a fence."""
        longest = max((len(m.group()) for m in _BACKTICKS.finditer(self.text)), default=2)
        fence = "`" * max(3, longest + 1)
        body = self.text if self.text.endswith("\n") or not self.text else self.text + "\n"
        return f"{self.name}:\n{fence}{self.language}\n{body}{fence}"

    def image(self) -> ImageInput:
        return ImageInput(self.mime, self.data, self.name)

    def data_url(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"


def message_content(text: str, attachments: Iterable[Attachment]) -> str:
    """The text a model reads for a user message: what was typed, then each text file."""
    blocks = [a.fenced() for a in attachments if not a.is_image]
    if not blocks:
        return text
    return "\n\n".join([text, *blocks] if text.strip() else blocks)


def images_of(attachments: Iterable[Attachment]) -> tuple[ImageInput, ...]:
    return tuple(a.image() for a in attachments if a.is_image)


def language_for(name: str) -> str:
    """The fence's language for a file name (Pygments' first alias), or ""."""
    from pygments.lexers import find_lexer_class_for_filename

    try:
        lexer = find_lexer_class_for_filename(name)
    except Exception:  # noqa: BLE001 - a lookup miss is never an error here
        return ""
    if lexer is None or not lexer.aliases or lexer.aliases[0] == "text":
        return ""
    return str(lexer.aliases[0])


def read_attachments(
    paths: Iterable[Path],
    cancel: threading.Event | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> AttachmentBatch:
    """Read every file of a drop; a bad file is reported by name and the rest still attach.
    `cancel` stops between files and between a PDF's pages (what was read is kept)."""
    todo = list(paths)
    attached: list[Attachment] = []
    problems: list[str] = []
    notes: list[str] = []
    for done, path in enumerate(todo):
        if cancel is not None and cancel.is_set():
            break
        try:
            attachment = read_attachment(path, cancel)
        except AttachmentError as exc:
            problems.append(str(exc))
        except Exception:  # one file's bug must not lose the rest of the drop
            logger.exception("reading attachment %s", path)
            problems.append(f"Something went wrong reading {path.name}; the log has details. "
                            "The other files are attached.")  # fmt: skip
        else:
            attached.append(attachment)
            if note := cut_note(attachment):
                notes.append(note)
        if progress is not None:
            progress(done + 1, len(todo))
    return AttachmentBatch(tuple(attached), tuple(problems), tuple(notes))


def read_attachment(path: Path, cancel: threading.Event | None = None) -> Attachment:
    """Read `path` as a text file, a PDF's text or an image; raise `AttachmentError` if none."""
    name = path.name
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise AttachmentError(f"{name} is not a file.", "Attach files, not folders.")
        if size > MAX_FILE_BYTES:
            raise AttachmentError(
                f"{name} is {size / 1e6:.0f} MB, too big to attach.",
                "Attach a smaller file, or the part of it that matters.",
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise AttachmentError(
            f"Parley can't read {name} ({exc.strerror or exc}).",
            "Check that the file exists and that you may read it.",
        ) from exc
    suffix = path.suffix.lower()
    # An image is known by its bytes, whatever its name says.
    if mime := sniff_image(raw):
        return image_attachment(name, raw, mime)
    if suffix in IMAGE_TYPES:
        raise AttachmentError(
            f"{name} is named like an image but is not a PNG, JPEG, GIF or WebP image.",
            "Save it in one of those formats and attach it again.",
        )
    if suffix == ".pdf" or raw.startswith(b"%PDF-"):
        return text_attachment(name, pdf_text(name, raw, cancel), mime="application/pdf")
    return text_attachment(name, decode_text(name, raw))


def image_attachment(name: str, data: bytes, mime: str) -> Attachment:
    if sniff_image(data) != mime or mime not in IMAGE_MIMES:
        raise AttachmentError(
            f"{name} is not a PNG, JPEG, GIF or WebP image.",
            "Save it in one of those formats and attach it again.",
        )
    if len(data) > MAX_IMAGE_BYTES:
        raise AttachmentError(
            f"{name} is {len(data) / 1e6:.0f} MB; images can be at most "
            f"{MAX_IMAGE_BYTES // 1_000_000} MB.",
            "Attach a smaller or scaled-down copy.",
        )
    return Attachment(name, "image", mime, data=data, tokens=IMAGE_TOKENS_ESTIMATE)


def text_attachment(name: str, text: str, mime: str = "text/plain") -> Attachment:
    if len(text) > MAX_TEXT_CHARS:
        raise AttachmentError(
            f"{name} holds {len(text):,} characters, more than any model can read at once.",
            "Attach the part of it that matters.",
        )
    language = "" if mime == "application/pdf" else language_for(name)
    attachment = Attachment(name, "text", mime, text=text, language=language)
    return _with_tokens(attachment)


def _with_tokens(attachment: Attachment) -> Attachment:
    from dataclasses import replace

    return replace(attachment, tokens=estimate_tokens(attachment.fenced()))


def decode_text(name: str, raw: bytes) -> str:
    """UTF-8 (with or without BOM), else UTF-16 with a BOM; binary files are refused
    (a NUL anywhere in the text, not only in its first 8 KB, marks one)."""
    text: str | None = None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        with contextlib.suppress(UnicodeDecodeError):
            text = raw.decode("utf-16")
    if text is None and b"\x00" not in raw:
        with contextlib.suppress(UnicodeDecodeError):
            text = raw.decode("utf-8-sig")
    if text is not None and "\x00" not in text:
        return text
    raise AttachmentError(
        f"{name} is not a text file, a PDF or an image Parley can send.",
        "Attach source or text files (UTF-8), PDFs, or PNG, JPEG, GIF or WebP images.",
    )


def cut_note(attachment: Attachment) -> str | None:
    """The line saying a PDF's text was cut short, if it was."""
    last = attachment.text.rpartition("\n")[2]
    if attachment.mime == "application/pdf" and last.startswith("[") and " was cut: " in last:
        return last[1:-1]
    return None


def pdf_text(
    name: str,
    raw: bytes,
    cancel: threading.Event | None = None,
    seconds: float = PDF_SECONDS,
    max_chars: int = MAX_TEXT_CHARS,
) -> str:
    """The text of every page of a PDF, pages separated by a blank line (pypdf).

    Reading stops after `seconds` or `max_chars`, or when `cancel` is set; what was read is
    kept, followed by a bracketed line saying where and why it was cut."""
    import io

    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PyPdfError

    damaged = "The file may be damaged; try printing it to a new PDF and attach that."
    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and not reader.decrypt(""):
            raise AttachmentError(
                f"{name} is password-protected.", "Save an unprotected copy and attach that."
            )
        total = len(reader.pages)
    except AttachmentError:
        raise
    except (DependencyError, FileNotDecryptedError) as exc:
        raise AttachmentError(
            f"{name} is encrypted and Parley can't decrypt it here ({exc}).",
            "Save an unencrypted copy and attach that.",
        ) from exc
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, RecursionError) as exc:
        raise AttachmentError(f"{name} can't be read as a PDF ({exc}).", damaged) from exc
    deadline = time.monotonic() + seconds
    pages: list[str] = []
    size = 0
    cut = ""

    def why_stop() -> str:
        if cancel is not None and cancel.is_set():
            return "reading was cancelled"
        if time.monotonic() > deadline:
            return f"it took longer than {seconds:g} seconds"
        if size > max_chars:
            return f"it holds more than {max_chars:,} characters"
        return ""

    # Checked between pages: pypdf bounds one page's work itself (its per-stream limits,
    # LimitReachedError), not a document's many pages sharing one huge stream.
    for number in range(total):
        done = f"read {number} of {total} pages"
        if reason := why_stop():
            cut = f"{done}; {reason}"
            break
        try:
            text = (reader.pages[number].extract_text() or "").strip()
        except (PyPdfError, ValueError, KeyError, TypeError, OSError, RecursionError) as exc:
            if not pages:
                raise AttachmentError(f"{name} can't be read as a PDF ({exc}).", damaged) from exc
            cut = f"{done}; page {number + 1} can't be read ({str(exc)[:100]})"
            break
        if text:
            pages.append(text)
            size += len(text) + 2
    text = "\n\n".join(pages)
    if not text.strip():
        if cut:
            raise AttachmentError(
                f"{name}: Parley found no text before it stopped ({cut}).",
                "Attach a smaller PDF, or the pages that matter.",
            )
        raise AttachmentError(
            f"{name} has no text Parley can read (it may be scanned pages).",
            "Attach a PDF with a text layer, or the pages as images to a model that reads them.",
        )
    if not cut and len(text) > max_chars:
        cut = f"read {total} pages; they hold more than {max_chars:,} characters"
    if cut:
        note = f"\n\n[{name} was cut: Parley {cut}.]"
        text = text[: max(0, max_chars - len(note))] + note  # the whole fits Attach's limit
    return text


def total_tokens(attachments: Sequence[Attachment]) -> int:
    return sum(a.tokens for a in attachments)
