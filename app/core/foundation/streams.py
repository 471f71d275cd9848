"""Consuming a generator that yields items and returns a result (a chat turn)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Generator


def consume[T, R](stream: Generator[T, None, R], each: Callable[[T], None]) -> R:
    """Hand every item of `stream` to `each`, then return what `stream` returned."""
    while True:
        try:
            item = next(stream)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        each(item)
