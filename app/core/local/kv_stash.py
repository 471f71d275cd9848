"""Snapshots of llama.cpp's KV cache for prompts another conversation pushed out.

One `Llama` serves every conversation, and its KV cache holds one token sequence: the
last prompt. Going from conversation A to B and back would make llama.cpp read A's whole
history again (seconds on a CPU). Before B's prompt overwrites a long cached prefix, the
stash copies that sequence's KV cells (`llama_state_seq_get_data`, sequence 0 only: no
logits, no other state) into RAM; when A comes back, the longest matching snapshot is
copied in again and only the new turn is read. Bounded by bytes, oldest out first.
"""

from __future__ import annotations

import ctypes
import logging
from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    import llama_cpp

logger = logging.getLogger(__name__)

MIN_TOKENS = 256  # a shorter prefix is read again faster than it is worth keeping
DEFAULT_CAPACITY = 1 << 30  # bytes of RAM for snapshots


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class KVStash:
    """KV snapshots keyed by the tokens they hold. Use from the local lane only."""

    def __init__(self, capacity_bytes: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity_bytes
        self._items: OrderedDict[tuple[int, ...], bytes] = OrderedDict()
        self.restores = 0  # how often a snapshot saved a re-read (tests and benches)

    @property
    def size(self) -> int:
        return sum(len(v) for v in self._items.values())

    def clear(self) -> None:
        self._items.clear()

    def prepare(self, llm: llama_cpp.Llama, tokens: Sequence[int]) -> None:
        """Before `llm.generate(tokens)`: keep what it would throw away, bring back what it
        would read again. Errors only log: the cost is a re-read, never a wrong answer."""
        current = [int(t) for t in llm.input_ids[: llm.n_tokens]]
        kept = common_prefix(current, tokens)
        try:
            if len(current) - kept >= MIN_TOKENS:
                self._save(llm, tuple(current))
            best = max(self._items, key=lambda ids: common_prefix(ids, tokens), default=None)
            if best is not None and common_prefix(best, tokens) > max(kept, MIN_TOKENS - 1):
                self._restore(llm, best)
        except (OSError, RuntimeError, ValueError) as exc:
            logger.warning("KV snapshot skipped: %s", exc)

    def _save(self, llm: llama_cpp.Llama, ids: tuple[int, ...]) -> None:
        import llama_cpp

        if ids in self._items:
            self._items.move_to_end(ids)
            return
        size = llama_cpp.llama_state_seq_get_size(llm._ctx.ctx, 0)
        if size > self.capacity:
            return
        buf = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(llm._ctx.ctx, buf, size, 0)
        if not written:
            return
        self._items[ids] = bytes(buf)[:written]
        while self.size > self.capacity:
            self._items.popitem(last=False)

    def _restore(self, llm: llama_cpp.Llama, ids: tuple[int, ...]) -> None:
        import llama_cpp

        data = self._items[ids]
        self._items.move_to_end(ids)
        buf = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
        if llama_cpp.llama_state_seq_set_data(llm._ctx.ctx, buf, len(data), 0) == 0:
            raise RuntimeError("llama.cpp refused the KV snapshot")
        llm.input_ids[: len(ids)] = ids
        llm.n_tokens = len(ids)
        llm._requires_eval = True  # no logits come back with the cells: read one token again
        self.restores += 1
