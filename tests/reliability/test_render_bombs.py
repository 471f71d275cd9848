"""Render bombs (issue 22): short answers that made the renderer take the GUI thread or
memory for itself: unclosed math openers, a formula wider than any screen, thousands
of code blocks. Each must show promptly and cost little."""

from __future__ import annotations

import random
import re
import time
from typing import TYPE_CHECKING

import pytest

from app.ui.render.markdown import MathSpan, find_math

if TYPE_CHECKING:
    from tests.reliability.conftest import Tally

pytestmark = [
    pytest.mark.reliability("text"),
    pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise"),
]

# The math scan before issue 22 (lazy regexes, quadratic on unclosed openers): the
# linear scan must find exactly what it found.
_OLD_CODE_SPAN = re.compile(r"(`+)(?:.|\n)*?(?<!`)\1(?!`)")
_OLD_MATH = re.compile(
    r"\$\$(?P<dd>(?:.|\n)+?)\$\$"
    r"|\\\[(?P<bd>(?:.|\n)+?)\\\]"
    r"|\\\((?P<bi>(?:.|\n)+?)\\\)"
    r"|(?<![\\$\w])\$(?P<di>[^\s$](?:[^$\n]*?[^\s$\\])?)\$(?![\d$\w])"
)


def _old_find_math(text: str) -> list[MathSpan]:
    masked = _OLD_CODE_SPAN.sub(lambda m: " " * len(m.group()), text)
    spans = []
    for m in _OLD_MATH.finditer(masked):
        kind = m.lastgroup or ""
        tex = text[m.start(kind) : m.end(kind)].strip()
        if tex:
            spans.append(MathSpan(m.start(), m.end(), tex, kind in ("dd", "bd")))
    return spans


@pytest.mark.parametrize(
    "bomb",
    ["\\(", "\\[", "$$", "$a ", "`` `a", "\\(x`"],
    ids=["paren", "bracket", "dollars", "inline-dollar", "code-spans", "mixed"],
)
def test_unclosed_math_openers_are_scanned_in_linear_time(bomb: str, tally: Tally) -> None:
    """Regression (issue 22, input 1): 32 KB of `\\(` held the GUI thread 11.7 s (a
    streamed 12 KB one, 157 s): every opener searched the rest of the text."""
    text = bomb * (32 * 1024 // len(bomb))
    started = time.perf_counter()
    spans = find_math(text)
    seconds = time.perf_counter() - started
    tally.case(hung=seconds > 0.5, note=f"{bomb!r} x {len(text):,}: {seconds:.3f} s")
    tally.check()
    assert seconds < 0.5
    if bomb in ("\\(", "\\["):
        assert spans == []  # nothing closes: it all stays text


def test_the_linear_math_scan_finds_what_the_old_one_found(tally: Tally) -> None:
    pieces = ["$", "$$", "\\", "(", ")", "[", "]", "`", "``", " ", "\n", "a", "1", "é", "_",
              "\\(", "\\)", "\\[", "\\]", "x^2", "{", "}"]  # fmt: skip
    rnd = random.Random(22)
    for _ in range(20_000):
        text = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 24)))
        tally.case(lost=find_math(text) != _old_find_math(text), note=repr(text))
        assert find_math(text) == _old_find_math(text), repr(text)
    tally.check()
