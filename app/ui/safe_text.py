"""Showing text Parley did not write (model output, titles, provider errors) safely.

Qt renders a string as HTML wherever it "might be rich text" (QLabel's default
`AutoText`, every tool tip), and HTML can name images: `<img src="file:///dev/zero">`
makes Qt read that file on the GUI thread (until memory runs out, or forever
for a FIFO). So untrusted text goes into labels as plain text, into tool tips
escaped, and the text views that render Markdown load no resource but a small
`data:` image.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from typing import TYPE_CHECKING

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
from PySide6.QtGui import QImage, QImageReader
from PySide6.QtGui import Qt as GuiQt  # mightBeRichText lives on QtGui's Qt

if TYPE_CHECKING:
    from PySide6.QtWidgets import QLabel

MAX_IMAGE_BYTES = 2 << 20  # a data: image larger than this is not decoded
MAX_IMAGE_SIDE = 4096  # pixels; a decompression bomb stays a placeholder
_DATA_URL = re.compile(r"data:image/[\w.+-]+;base64,(?P<payload>[A-Za-z0-9+/=\s]*)\Z", re.I)


def plain_label[L: QLabel](label: L) -> L:
    """Make `label` show its text literally: never as HTML."""
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def plain_tip(text: str) -> str:
    """A tool tip that shows `text` literally (tool tips render anything that looks like HTML)."""
    if not GuiQt.mightBeRichText(text):
        return text
    return f"<p style='white-space:pre-wrap'>{html.escape(text)}</p>"


def data_image(url: str) -> QImage:
    """The image of a base64 `data:image/...` URL; a null image for anything else or too big."""
    match = _DATA_URL.match(url)
    if match is None or len(match["payload"]) > MAX_IMAGE_BYTES * 4 // 3 + 4:
        return QImage()
    try:
        raw = base64.b64decode("".join(match["payload"].split()), validate=True)
    except (binascii.Error, ValueError):
        return QImage()
    buffer = QBuffer()
    buffer.setData(QByteArray(raw))
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    reader = QImageReader(buffer)
    size = reader.size()  # from the header: a bomb is refused before any pixel is decoded
    if not size.isValid() or max(size.width(), size.height()) > MAX_IMAGE_SIDE:
        return QImage()
    image = reader.read()
    return image if not image.isNull() else QImage()
