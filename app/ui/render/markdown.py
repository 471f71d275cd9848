r"""Split an answer into prose and fenced code blocks, and find the math in prose.

Prose goes to a Markdown text view; each code block gets its own monospace
widget with a Copy button. An unclosed fence (an answer still streaming)
counts as a code block up to the end of the text (`closed=False`: it stays
unhighlighted until its fence closes). A fence indented four spaces or more
(inside a list item) is a code block too; its indentation is taken off its lines.

Math (issue 17): `$$…$$` and `\[…\]` are display math, `\(…\)` and `$…$`
inline. A `$` opens inline math only before a non-space and closes after one,
not before a digit, so "$5 and $10" stays text; nothing inside inline code
spans counts. We wrote this scanner ourselves: Markdown libraries that parse
math (markdown-it's dollarmath plugin) render it to HTML, and Qt's Markdown
reader (md4c) has no math at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

SegmentKind = Literal["prose", "code", "plain"]

_FENCE = re.compile(r"^( *)(`{3,}|~{3,})\s*([^\s`]*)")
# Long prose is cut at paragraph breaks into pieces of about this size, so a
# streaming answer re-renders only its last piece however long it grows.
CHUNK_CHARS = 1200


@dataclass(frozen=True, slots=True)
class Segment:
    kind: SegmentKind
    text: str
    language: str = ""
    closed: bool = True  # a code block whose fence has closed (it can be highlighted)
    indent: int = 0  # spaces before the fence (a code block inside a list item)


def split_segments(text: str) -> list[Segment]:
    segments: list[Segment] = []
    prose: list[str] = []
    fence = ""
    language = ""
    indent = 0
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
                indent, fence, language = len(match.group(1)), match.group(2), match.group(3)
                code = []
            else:
                prose.append(line)
            continue
        stripped = line.strip()
        if stripped.startswith(fence) and not stripped.strip(fence[0]):
            segments.append(Segment("code", "\n".join(code), language, True, indent))
            fence = ""
        else:
            code.append(_dedent(line, indent))
    if fence:
        segments.append(Segment("code", "\n".join(code), language, False, indent))
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


def _dedent(line: str, indent: int) -> str:
    """Take up to `indent` leading spaces off a code line (the fence's own indentation)."""
    if indent == 0:
        return line
    spaces = len(line) - len(line.lstrip(" "))
    return line[min(spaces, indent) :]


# math -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MathSpan:
    start: int
    end: int
    tex: str
    display: bool


_CODE_SPAN = re.compile(r"(`+)(?:.|\n)*?(?<!`)\1(?!`)")
_MATH = re.compile(
    r"\$\$(?P<dd>(?:.|\n)+?)\$\$"
    r"|\\\[(?P<bd>(?:.|\n)+?)\\\]"
    r"|\\\((?P<bi>(?:.|\n)+?)\\\)"
    r"|(?<![\\$\w])\$(?P<di>[^\s$](?:[^$\n]*?[^\s$\\])?)\$(?![\d$\w])"
)
_MATH_HINTS = ("$", "\\(", "\\[")


def find_math(text: str) -> list[MathSpan]:
    """The math in a piece of prose, in order; none inside inline code."""
    if not any(hint in text for hint in _MATH_HINTS):
        return []
    masked = _CODE_SPAN.sub(lambda m: " " * len(m.group()), text)
    spans: list[MathSpan] = []
    for m in _MATH.finditer(masked):
        kind = m.lastgroup or ""
        tex = text[m.start(kind) : m.end(kind)].strip()
        if tex:
            spans.append(MathSpan(m.start(), m.end(), tex, kind in ("dd", "bd")))
    return spans
