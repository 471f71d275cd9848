"""Text from models, providers and files, shown as text on a terminal.

An answer, a conversation title or a provider's error message may hold control
characters and escape sequences; written raw, they would set the terminal's title,
clear the screen, hide text, write the clipboard (OSC 52), plant a link (OSC 8) or
overwrite a line (a bare carriage return). `parley` writes its human-readable output to a
terminal through `VisibleText`, which shows every C0 control but tab and newline as its Unicode
control picture (ESC as ␛) and every C1 control and DEL as `\\u00NN`. JSON output
(`--json`) goes to the raw stream: JSON escapes control characters itself, and the text
stays exactly what was sent.
"""

from __future__ import annotations

import io
import sys
from typing import TextIO

_KEPT = {0x09, 0x0A}  # tab, newline
_VISIBLE = {c: chr(0x2400 + c) for c in range(0x20) if c not in _KEPT}
# As JSON writes them, so JSON printed through this stays valid and means the same.
_VISIBLE |= {c: f"\\u{c:04x}" for c in (0x7F, *range(0x80, 0xA0))}

raw_stdout: TextIO = sys.stdout
raw_stderr: TextIO = sys.stderr


def visible(text: str) -> str:
    """`text` with control characters shown, not obeyed."""
    return text.translate(_VISIBLE)


class VisibleText(io.TextIOBase):
    """A text stream that writes `visible(text)` to `stream`."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(visible(text))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]  # read-only, as the stream's
        return self._stream.encoding


def install() -> None:
    """Route `print` and `sys.stdout`/`sys.stderr` writes through `VisibleText` where they
    go to a terminal; keep the raw streams for JSON and for Parley's own progress line.
    Output to a file or a pipe stays exactly what was sent (an export, a script's input)."""
    global raw_stdout, raw_stderr
    raw_stdout, raw_stderr = sys.stdout, sys.stderr
    if _is_terminal(sys.stdout) and not isinstance(sys.stdout, VisibleText):
        sys.stdout = VisibleText(sys.stdout)
    if _is_terminal(sys.stderr) and not isinstance(sys.stderr, VisibleText):
        sys.stderr = VisibleText(sys.stderr)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def uninstall() -> None:
    if isinstance(sys.stdout, VisibleText):
        sys.stdout = raw_stdout
    if isinstance(sys.stderr, VisibleText):
        sys.stderr = raw_stderr
