"""Cut a streamed answer at the first stop sequence, without ever sending part of one.

Text that could be the start of a stop sequence is held back until the next
delta shows whether it is; everything else passes straight through.
"""

from __future__ import annotations


class StopMatcher:
    __slots__ = ("_held", "_longest", "_stops", "stopped")

    def __init__(self, stops: tuple[str, ...]) -> None:
        self._stops = stops
        self._longest = max((len(s) for s in stops), default=0)
        self._held = ""
        self.stopped = False

    def feed(self, delta: str) -> str:
        """The text that may be sent now; sets `stopped` once a stop sequence appears."""
        if not self._stops:
            return delta
        if self.stopped:
            return ""
        text = self._held + delta
        cut = min((i for s in self._stops if (i := text.find(s)) != -1), default=-1)
        if cut != -1:
            self.stopped = True
            self._held = ""
            return text[:cut]
        keep = self._partial_suffix(text)
        self._held = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep]

    def flush(self) -> str:
        """At the end of the answer: what was held back was not a stop sequence after all."""
        held, self._held = self._held, ""
        return "" if self.stopped else held

    def _partial_suffix(self, text: str) -> int:
        """Length of the longest end of `text` that begins some stop sequence."""
        for n in range(min(self._longest - 1, len(text)), 0, -1):
            tail = text[-n:]
            if any(s.startswith(tail) for s in self._stops):
                return n
        return 0
