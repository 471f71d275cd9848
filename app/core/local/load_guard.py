"""Before llama.cpp loads a model: refuse one that cannot fit, offload only the layers that do.

llama.cpp asked for more memory than there is either fails late or gets the
process killed; the fit estimate (`app.core.local.fit`) lets Parley say so first.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

from app.core.foundation.errors import ModelError
from app.core.local.catalog import header_for
from app.core.local.fit import ModelShape, Verdict, estimate
from app.core.local.hardware import cached_probe, memory

if TYPE_CHECKING:
    from app.core.local.catalog import InstalledModel

logger = logging.getLogger(__name__)


def gpu_layers_for(model: InstalledModel, n_ctx: int, requested: int) -> int:
    """The `n_gpu_layers` to load with: `requested`, or fewer when the GPU can't hold all.

    Raises `ModelError` when the model fits neither VRAM nor RAM at this context.
    """
    total, available = memory()
    hw = cached_probe()
    if total:
        hw = dataclasses.replace(hw, ram_total=total, ram_available=available)
    fit = estimate(ModelShape.from_header(header_for(model.path), model.size_bytes), hw, n_ctx)
    if fit.verdict is Verdict.TOO_BIG:
        raise ModelError(
            f"{model.name} is too big for this machine: it needs about "
            f"{fit.needed_bytes / 1e9:.1f} GB at {n_ctx:,} tokens of context, and "
            f"{fit.ram_budget / 1e9:.1f} GB of RAM and {fit.vram_budget / 1e9:.1f} GB of VRAM "
            "are free.",
            "Choose a smaller quantization or a shorter context, or close other programs.",
        )
    if requested < 0 and fit.verdict is Verdict.PARTIAL:
        logger.info("%s: offloading %d of %d layers", model.name, fit.gpu_layers, fit.total_layers)
        return fit.gpu_layers
    return requested
