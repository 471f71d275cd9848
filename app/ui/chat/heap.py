"""Keep the cyclic garbage collector from stalling a streaming answer."""

from __future__ import annotations

import gc


def settle_heap() -> None:
    """Move what is alive now (the open conversation's widgets) out of the cyclic GC's sight.

    A full collection scans every tracked object: ~60 ms here with a long conversation
    open, which would stall a streaming answer. Frozen objects are skipped; unfreezing
    first lets the previous conversation's garbage be collected now, while opening.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
