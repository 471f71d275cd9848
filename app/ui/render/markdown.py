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

import bisect
import re
from dataclasses import dataclass
from typing import Literal

SegmentKind = Literal["prose", "code", "plain"]

_FENCE = re.compile(r"^( *)(`{3,}|~{3,})\s*([^\s`]*)")
# Long prose is cut at paragraph breaks into pieces of about this size, so a
# streaming answer re-renders only its last piece however long it grows.
CHUNK_CHARS = 1200
# Code blocks that get their own widget (highlighting, a Copy button). Past these, fenced
# code stays in the prose, where Qt's Markdown reader shows it as plain monospace: each
# widget costs every relayout of the message (issue 22: 1,000 code blocks, 15.5 s).
MAX_CODE_BLOCKS = 64


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

    blocks = 0
    for line in text.split("\n"):
        if blocks >= MAX_CODE_BLOCKS:
            prose.append(line)  # the rest, fences and all, is prose
            continue
        if not fence:
            match = _FENCE.match(line)
            if match:
                flush_prose()
                indent, fence, language = len(match.group(1)), match.group(2), match.group(3)
                code = []
            else:
                prose.append(line)
            continue
        if _closes(line, fence):
            segments.append(Segment("code", "\n".join(code), language, True, indent))
            fence = ""
            blocks += 1
        else:
            code.append(_dedent(line, indent))
    if fence:
        segments.append(Segment("code", "\n".join(code), language, False, indent))
    flush_prose()
    return segments


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return stripped.startswith(fence) and not stripped.strip(fence[0])


def _fenced(prose: str) -> list[tuple[int, int]]:
    """(start, end) of each fenced block left in prose (past `MAX_CODE_BLOCKS`)."""
    ranges: list[tuple[int, int]] = []
    fence, start, at = "", 0, 0
    for line in prose.split("\n"):
        if not fence:
            if match := _FENCE.match(line):
                fence, start = match.group(2), at
        elif _closes(line, fence):
            ranges.append((start, at + len(line)))
            fence = ""
        at += len(line) + 1
    if fence:
        ranges.append((start, len(prose)))
    return ranges


def _chunks(prose: str) -> list[str]:
    """Cut at blank lines once a piece is CHUNK_CHARS long; cuts never move as text grows.

    A paragraph that starts indented continues a list item, so it stays with its piece;
    fenced code left in the prose is never cut, and its end is a place to cut.
    """
    if len(prose) < CHUNK_CHARS:
        return [prose]
    fenced = _fenced(prose) if "``" in prose or "~~" in prose else []
    starts, ends = [s for s, _ in fenced], [e for _, e in fenced]
    pieces: list[str] = []
    start = 0
    search_from = CHUNK_CHARS
    while True:
        cut, skip = prose.find("\n\n", search_from), 2
        after_fence = bisect.bisect_left(ends, search_from)
        fence_end = ends[after_fence] if after_fence < len(ends) else -1
        closed = fence_end != -1 and prose[fence_end : fence_end + 1] == "\n"
        if closed and not 0 <= cut < fence_end:
            cut, skip = fence_end, 1
        if cut == -1:
            break
        after = prose[cut + skip : cut + skip + 1]
        inside = bisect.bisect_right(starts, cut) - 1
        if inside >= 0 and cut < ends[inside]:  # never inside a code block
            search_from = ends[inside]
            continue
        if after in ("", " ", "\t", "\n"):
            search_from = cut + 1
            continue
        pieces.append(prose[start:cut])
        start = cut + skip
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


_BACKTICKS = re.compile(r"`+")
_WORD = re.compile(r"\w")  # the regex classes the scan has always used, one char at a time
_SPACE = re.compile(r"\s")
_MATH_HINTS = ("$", "\\(", "\\[")
# Delimited math: opener, closer, display. `$$` comes before the inline `$`.
_DELIMITED = (("$$", "$$", True), ("\\[", "\\]", True), ("\\(", "\\)", False))


class _NextFinder:
    """`text.find(needle, start)` for starts that never decrease, in linear time overall.

    An answer of unclosed openers (32 KB of `\\(`) made a lazy regex search to the
    end of the text from every opener: 11.7 s on the GUI thread. Once a search has
    found the next closer at `found`, any start up to `found` has the same answer;
    once it found none, no later start finds one either.
    """

    __slots__ = ("_found", "_needle", "_text")

    def __init__(self, text: str, needle: str) -> None:
        self._text, self._needle = text, needle
        self._found = -2  # not searched yet

    def find(self, start: int) -> int:
        if self._found == -1 or start <= self._found:
            return self._found
        self._found = self._text.find(self._needle, start)
        return self._found


def find_math(text: str) -> list[MathSpan]:
    """The math in a piece of prose, in order; none inside inline code.

    One pass from left to right, linear in the text: at each `$` or backslash the
    first delimiter pair that closes wins (`$$`, `\\[`, `\\(`, then an inline `$`),
    the nearest closer ends it, and the scan goes on after it.
    """
    if not any(hint in text for hint in _MATH_HINTS):
        return []
    masked = _mask_code_spans(text)
    closers = {close: _NextFinder(masked, close) for _, close, _ in _DELIMITED}
    dollars, slashes = _NextFinder(masked, "$"), _NextFinder(masked, "\\")
    spans: list[MathSpan] = []
    at, size = 0, len(masked)
    while at < size:
        dollar, slash = dollars.find(at), slashes.find(at)
        candidates = [p for p in (dollar, slash) if p != -1]
        if not candidates:
            break
        at = min(candidates)
        end = _delimited_end(masked, at, closers)
        display = True
        if end is None and masked[at] == "$":
            end, display = _inline_dollar_end(masked, at), False
        elif end is not None:
            display = masked[at + 1] != "("
        if end is None:
            at += 1
            continue
        inner = 1 if masked[at] == "$" and not display else 2
        tex = text[at + inner : end - inner].strip()
        if tex:
            spans.append(MathSpan(at, end, tex, display))
        at = end
    return spans


def _delimited_end(masked: str, at: int, closers: dict[str, _NextFinder]) -> int | None:
    """Where `$$…$$`, `\\[…\\]` or `\\(…\\)` opened at `at` ends (None: not one)."""
    for opener, closer, _ in _DELIMITED:
        if masked.startswith(opener, at):
            found = closers[closer].find(at + 3)  # at least one character inside
            if found != -1:
                return found + 2
    return None


def _inline_dollar_end(masked: str, at: int) -> int | None:
    """Where `$…$` opened at `at` ends: a `$` before a non-space, closed on the same line
    by the next `$` after a non-space that isn't followed by a digit or a word."""
    before = masked[at - 1] if at else ""
    if before and (before in "\\$" or _WORD.match(before)):
        return None
    first = masked[at + 1 : at + 2]
    if not first or first == "$" or _SPACE.match(first):
        return None
    close = masked.find("$", at + 2)
    if close == -1 or masked.find("\n", at + 2, close) != -1:
        return None
    if close > at + 2:
        last = masked[close - 1]
        if last == "\\" or _SPACE.match(last):
            return None
    after = masked[close + 1 : close + 2]
    if after and (after == "$" or _WORD.match(after)):
        return None
    return close + 1


def _mask_code_spans(text: str) -> str:
    """`text` with every inline code span blanked out (same length).

    A run of n backticks opens a span that the next run of exactly n closes; when
    none follows, a shorter prefix of the run may open one (the regex this replaces
    backtracked that way). Linear: each run looks only at runs after it, by length.
    """
    if "`" not in text:
        return text
    runs = [(m.start(), m.end() - m.start()) for m in _BACKTICKS.finditer(text)]
    by_length: dict[int, list[int]] = {}
    for index, (_, length) in enumerate(runs):
        by_length.setdefault(length, []).append(index)
    cursor = dict.fromkeys(by_length, 0)  # per length: the first candidate not yet passed
    pieces: list[str] = []
    done = 0  # text before this is in `pieces`
    index = 0
    while index < len(runs):
        start, length = runs[index]
        closer: int | None = None
        for size in range(length, 0, -1):
            candidates = by_length.get(size)
            if candidates is None:
                continue
            at = cursor[size]
            while at < len(candidates) and candidates[at] <= index:
                at += 1
            cursor[size] = at
            if at < len(candidates):
                closer = candidates[at]
                break
        if closer is None:
            index += 1
            continue
        close_start, _ = runs[closer]
        end = close_start + size
        pieces.append(text[done:start])
        pieces.append(" " * (end - start))
        done = end
        index = closer + 1
    pieces.append(text[done:])
    return "".join(pieces)
