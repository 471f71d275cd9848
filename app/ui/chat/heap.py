"""Keep the cyclic garbage collector from stalling a streaming answer."""

from __future__ import annotations

import gc

_settled = False


def settle_heap() -> None:
    """Move what is alive now (the open conversation's widgets) out of the cyclic GC's sight.

    A full collection scans every tracked object: ~60 ms here with a long conversation
    open, which would stall a streaming answer. Frozen objects are skipped; unfreezing
    first lets the previous conversation's garbage be collected now, while opening.
    """
    global _settled
    if _settled:
        gc.unfreeze()
        gc.collect()
    # The first time (start-up) there is next to no garbage yet: skip the full pass.
    _settled = True
    gc.freeze()
