"""Key sequences for the window's actions, each held by one action only.

Qt calls a key sequence that two shortcuts of one window hold "ambiguous" and runs neither:
on Linux, whose standard Quit key is Ctrl+Q, the quit action held Ctrl+Q twice (the standard
key and a literal fallback) and Ctrl+Q did nothing. So an action asks for keys here, as the
platform's standard keys and literal fallbacks; it gets each sequence once, and none that
another action already holds.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtGui import QKeySequence

if TYPE_CHECKING:
    from collections.abc import Iterable

logger = logging.getLogger(__name__)

StandardKey = QKeySequence.StandardKey
Key = QKeySequence.StandardKey | str  # a platform's standard key, or a literal like "Ctrl+,"


def platform_bindings(key: QKeySequence.StandardKey) -> list[QKeySequence]:
    """Every sequence this platform binds to `key` (Copy is Ctrl+C and Ctrl+Ins on Linux;
    Preferences is Cmd+, on macOS and nothing on most Linux desktops)."""
    return list(QKeySequence.keyBindings(key))


def key_text(sequence: QKeySequence) -> str:
    return sequence.toString(QKeySequence.SequenceFormat.PortableText)


def resolve(keys: Iterable[Key]) -> list[QKeySequence]:
    """`keys` as sequences, in order: a standard key's bindings, then literals; each once."""
    seen: set[str] = set()
    sequences: list[QKeySequence] = []
    for key in keys:
        found = platform_bindings(key) if isinstance(key, StandardKey) else [QKeySequence(key)]
        for sequence in found:
            text = key_text(sequence)
            if text and text not in seen:
                seen.add(text)
                sequences.append(sequence)
    return sequences


class KeyMap:
    """Hands out key sequences: the first action to claim one holds it."""

    def __init__(self) -> None:
        self.holders: dict[str, str] = {}

    def claim(self, holder: str, keys: Iterable[Key]) -> list[QKeySequence]:
        granted: list[QKeySequence] = []
        for sequence in resolve(keys):
            text = key_text(sequence)
            owner = self.holders.setdefault(text, holder)
            if owner != holder:
                # A platform's binding may coincide with another action's key: the first keeps it.
                logger.warning("%s: %s is %s's already", holder, text, owner)
                continue
            granted.append(sequence)
        return granted
