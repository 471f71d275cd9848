"""Before llama.cpp loads a model: turn its controls into load options, refuse what cannot fit.

llama.cpp asked for more memory than there is either fails late or gets the
process killed; the fit estimate (`app.core.local.fit`) lets Parley say so first,
and picks how many layers go to the GPU when GPU layers are automatic.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.core.foundation.errors import ModelError
from app.core.local.catalog import header_for
from app.core.local.fit import FitEstimate, ModelShape, Verdict, estimate
from app.core.local.hardware import Hardware, cached_probe, memory, physical_cores

if TYPE_CHECKING:
    from app.core.local.catalog import InstalledModel
    from app.core.local.model_controls import KVCacheType, ModelControls

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """What `llama_cpp.Llama` gets: context, layers on the GPU, threads, flash attention,
    KV cache type and batch size (n_batch = n_ubatch)."""

    n_ctx: int
    n_gpu_layers: int
    n_threads: int
    flash_attn: bool
    kv_cache: KVCacheType
    n_batch: int


@dataclass(frozen=True, slots=True)
class LoadPlan:
    options: LoadOptions
    fit: FitEstimate


def current_hardware() -> Hardware:
    """The cached probe with RAM read again (it changes as programs start and stop)."""
    total, available = memory()
    hw = cached_probe()
    if total:
        hw = dataclasses.replace(hw, ram_total=total, ram_available=available)
    return hw


def effective_context(model: InstalledModel, controls: ModelControls) -> int:
    """The controls' context, never more than the model was trained for."""
    return min(controls.context_length, model.context_length or controls.context_length)


def plan_load(
    model: InstalledModel, controls: ModelControls, hw: Hardware | None = None
) -> LoadPlan:
    """The load options for `model` with `controls` on this machine, and the fit behind them.

    Raises `ModelError` when the model fits neither VRAM nor RAM with these controls, or
    when more GPU layers were asked for than the GPU holds.
    """
    hw = hw or current_hardware()
    n_ctx = effective_context(model, controls)
    shape = ModelShape.from_header(header_for(model.path), model.size_bytes)
    fit = estimate(shape, hw, n_ctx, controls)
    if fit.verdict is Verdict.TOO_BIG:
        raise ModelError(
            f"{model.name} is too big for this machine: it needs about "
            f"{fit.needed_bytes / 1e9:.1f} GB at {n_ctx:,} tokens of context, and "
            f"{fit.ram_budget / 1e9:.1f} GB of RAM and {fit.vram_budget / 1e9:.1f} GB of VRAM "
            "are free.",
            "Choose a smaller quantization, a shorter context or a q8_0 KV cache, "
            "or close other programs.",
        )
    if fit.verdict is Verdict.TOO_MANY_GPU_LAYERS:
        raise ModelError(
            f"{model.name}: {fit.gpu_layers} GPU layers were asked for, and the GPU holds "
            f"{fit.max_gpu_layers} of {fit.total_layers} with this context and KV cache.",
            "Set GPU layers to auto (or lower), or shorten the context.",
        )
    if fit.verdict is Verdict.PARTIAL:
        logger.info("%s: offloading %d of %d layers", model.name, fit.gpu_layers, fit.total_layers)
    # -1 puts the output layer on the GPU too (n_layers alone leaves it on the CPU).
    full = fit.gpu_layers == fit.total_layers
    options = LoadOptions(
        n_ctx=n_ctx,
        n_gpu_layers=-1 if full else fit.gpu_layers,
        n_threads=controls.threads or physical_cores(),
        flash_attn=fit.flash_attention,
        kv_cache=controls.kv_cache,
        n_batch=controls.batch_size,
    )
    return LoadPlan(options, fit)
