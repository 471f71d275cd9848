"""Split an answer into prose and fenced code blocks.

Prose goes to a Markdown text view; each code block gets its own monospace
widget with a Copy button. An unclosed fence (an answer still streaming)
counts as a code block up to the end of the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

SegmentKind = Literal["prose", "code", "plain"]

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)")
# Long prose is cut at paragraph breaks into pieces of about this size, so a
# streaming answer re-renders only its last piece however long it grows.
CHUNK_CHARS = 1200


@dataclass(frozen=True, slots=True)
class Segment:
    kind: SegmentKind
    text: str
    language: str = ""


def split_segments(text: str) -> list[Segment]:
    segments: list[Segment] = []
    prose: list[str] = []
    fence = ""
    language = ""
    code: list[str] = []

    def flush_prose() -> None:
        joined = "\n".join(prose)
        segments.extend(Segment("prose", chunk) for chunk in _chunks(joined) if chunk.strip())
        prose.clear()

    for line in text.split("\n"):
        if not fence:
            match = _FENCE.match(line)
            if match:
                flush_prose()
                fence, language = match.group(1), match.group(2)
                code = []
            else:
                prose.append(line)
            continue
        stripped = line.strip()
        if stripped.startswith(fence) and not stripped.strip(fence[0]):
            segments.append(Segment("code", "\n".join(code), language))
            fence = ""
        else:
            code.append(line)
    if fence:
        segments.append(Segment("code", "\n".join(code), language))
    flush_prose()
    return segments


def _chunks(prose: str) -> list[str]:
    """Cut at blank lines once a piece is CHUNK_CHARS long; cuts never move as text grows.

    A paragraph that starts indented continues a list item, so it stays with its piece.
    """
    if len(prose) < CHUNK_CHARS:
        return [prose]
    pieces: list[str] = []
    start = 0
    search_from = CHUNK_CHARS
    while (cut := prose.find("\n\n", search_from)) != -1:
        after = prose[cut + 2 : cut + 3]
        if after in ("", " ", "\t", "\n"):
            search_from = cut + 1
            continue
        pieces.append(prose[start:cut])
        start = cut + 2
        search_from = start + CHUNK_CHARS
    pieces.append(prose[start:])
    return pieces
