"""Files a user attaches to a message: text and source files, PDFs and images.

A text file (or a PDF's text, read with `pypdf`) is sent inside the user's
message as a fenced block headed by the file's name, in a fence longer than
any run of backticks in the file, so the file can't close it early. An image
is sent as an image part to targets that take images (`ChatMessage.images`).
What is read is stored with the message (`attachments` table), so the
conversation, its prompt and its exports never depend on the file still
being there.

Errors are `AttachmentError`s that say what to do next; nothing here touches Qt.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from app.core.foundation.errors import ParleyError
from app.core.llm.contract import ImageInput
from app.core.llm.token_estimate import estimate_tokens

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from pathlib import Path

AttachmentKind = Literal["text", "image"]

MAX_TEXT_CHARS = 1_000_000  # about 250k tokens: more than any model's context
MAX_FILE_BYTES = 50_000_000
MAX_IMAGE_BYTES = 20_000_000  # OpenAI's limit per image
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


def read_attachment(path: Path) -> Attachment:
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
    if suffix in IMAGE_TYPES:
        return image_attachment(name, raw, IMAGE_TYPES[suffix])
    if suffix == ".pdf" or raw.startswith(b"%PDF-"):
        return text_attachment(name, pdf_text(name, raw), mime="application/pdf")
    return text_attachment(name, decode_text(name, raw))


def image_attachment(name: str, data: bytes, mime: str) -> Attachment:
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
    """UTF-8 (with or without BOM), else UTF-16 with a BOM; binary files are refused."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            pass
    if b"\x00" not in raw[:8192]:
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            pass
    raise AttachmentError(
        f"{name} is not a text file, a PDF or an image Parley can send.",
        "Attach source or text files (UTF-8), PDFs, or PNG, JPEG, GIF or WebP images.",
    )


def pdf_text(name: str, raw: bytes) -> str:
    """The text of every page of a PDF, pages separated by a blank line (pypdf)."""
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and not reader.decrypt(""):
            raise AttachmentError(
                f"{name} is password-protected.", "Save an unprotected copy and attach that."
            )
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
    except AttachmentError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise AttachmentError(
            f"{name} can't be read as a PDF ({exc}).", "The file may be damaged."
        ) from exc
    text = "\n\n".join(p for p in pages if p)
    if not text.strip():
        raise AttachmentError(
            f"{name} has no text Parley can read (it may be scanned pages).",
            "Attach a PDF with a text layer, or the pages as images to a model that reads them.",
        )
    return text


def total_tokens(attachments: Sequence[Attachment]) -> int:
    return sum(a.tokens for a in attachments)
