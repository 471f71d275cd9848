"""How llama.cpp loads each model: context length, GPU layers, threads, KV cache, flash attention,
batch size. One set per model, saved in the settings table under `local.model.<name>`.

The Models tab, the conversation settings and `parley models use NAME --ctx N --gpu-layers N
--kv q8_0` write them; the local backend reads them when it loads the model, and the fit
estimate (`app.core.local.fit`) judges them before it does.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from app.core.foundation.errors import ParleyError

if TYPE_CHECKING:
    from collections.abc import Callable

    from app.core.foundation.settings import Settings

logger = logging.getLogger(__name__)

KEY_PREFIX = "local.model."
DEFAULT_CONTEXT = 4096
DEFAULT_BATCH = 512
MIN_CONTEXT, MAX_CONTEXT = 256, 1_048_576
MIN_BATCH, MAX_BATCH = 32, 8192
MAX_THREADS = 512


class KVCacheType(StrEnum):
    """Element type of the KV cache. Quantized types need flash attention in llama.cpp."""

    F16 = "f16"
    Q8_0 = "q8_0"
    Q4_0 = "q4_0"

    @property
    def ggml_type(self) -> int:
        """llama.cpp's `ggml_type` number (ggml.h: F16 = 1, Q4_0 = 2, Q8_0 = 8)."""
        return {"f16": 1, "q4_0": 2, "q8_0": 8}[self.value]

    @property
    def bytes_per_element(self) -> float:
        """Bytes per cached value: f16 2; q8_0 34 per 32; q4_0 18 per 32 (ggml block sizes)."""
        return {"f16": 2.0, "q8_0": 34 / 32, "q4_0": 18 / 32}[self.value]


class FlashAttention(StrEnum):
    AUTO = "auto"  # on when layers run on a GPU or the KV cache is quantized
    ON = "on"
    OFF = "off"


@dataclass(frozen=True, slots=True)
class ModelControls:
    """One model's load settings. `None` means automatic for GPU layers and threads."""

    context_length: int = DEFAULT_CONTEXT  # tokens
    gpu_layers: int | None = None  # None: as many as fit in the GPU's free memory
    threads: int | None = None  # None: one per physical core
    kv_cache: KVCacheType = KVCacheType.F16
    flash_attention: FlashAttention = FlashAttention.AUTO
    batch_size: int = DEFAULT_BATCH  # tokens per llama_decode (n_batch = n_ubatch)

    def validated(self) -> ModelControls:
        """Self, or `ParleyError` naming the first bad value and the range it must be in."""
        if not MIN_CONTEXT <= self.context_length <= MAX_CONTEXT:
            raise ParleyError(
                f"Context length must be between {MIN_CONTEXT:,} and {MAX_CONTEXT:,} tokens."
            )
        if self.gpu_layers is not None and self.gpu_layers < 0:
            raise ParleyError("GPU layers must be 0 or more, or auto.")
        if self.threads is not None and not 1 <= self.threads <= MAX_THREADS:
            raise ParleyError(f"CPU threads must be between 1 and {MAX_THREADS}, or auto.")
        if not MIN_BATCH <= self.batch_size <= MAX_BATCH:
            raise ParleyError(f"Batch size must be between {MIN_BATCH} and {MAX_BATCH} tokens.")
        if self.kv_cache is not KVCacheType.F16 and self.flash_attention is FlashAttention.OFF:
            raise ParleyError(
                f"A {self.kv_cache} KV cache needs flash attention.",
                "Set flash attention to auto or on, or use an f16 KV cache.",
            )
        return self

    def uses_flash_attention(self, offloaded: bool) -> bool:
        """Whether llama.cpp runs with flash attention. Auto: on a GPU, or with a quantized KV
        cache (llama.cpp needs it there); off on a CPU, where it measured slower here."""
        match self.flash_attention:
            case FlashAttention.ON:
                return True
            case FlashAttention.OFF:
                return False
        return offloaded or self.kv_cache is not KVCacheType.F16

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["kv_cache"] = str(self.kv_cache)
        data["flash_attention"] = str(self.flash_attention)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelControls:
        """Rebuild from `to_dict`; a field that is missing or unreadable gets its default."""
        base = cls()
        fields: dict[str, Any] = {}
        readers: dict[str, Callable[[Any], Any]] = {
            "context_length": int, "gpu_layers": _optional_int, "threads": _optional_int,
            "kv_cache": KVCacheType, "flash_attention": FlashAttention, "batch_size": int,
        }  # fmt: skip
        for name, read in readers.items():
            if name in data:
                try:
                    fields[name] = read(data[name])
                except (TypeError, ValueError):
                    logger.warning("ignoring the stored %s %r", name, data[name])
        controls = replace(base, **fields)
        try:
            return controls.validated()
        except ParleyError as exc:
            logger.warning("stored model controls are invalid (%s); using defaults", exc)
            return base


def _optional_int(value: Any) -> int | None:
    if value is None or value == "auto":
        return None
    return int(value)


def parse_auto_int(text: str, name: str) -> int | None:
    """`"auto"` (or empty) → None, a whole number → int; `ParleyError` for anything else."""
    text = text.strip().lower()
    if text in ("", "auto"):
        return None
    try:
        return int(text)
    except ValueError:
        raise ParleyError(f"{name} must be a whole number or auto.") from None


class ModelControlsStore:
    """Per-model controls in the settings table; a model nobody set gets the defaults."""

    def __init__(self, settings: Settings | None) -> None:
        self.settings = settings

    def get(self, model_name: str) -> ModelControls:
        stored = self.settings.get(KEY_PREFIX + model_name) if self.settings else None
        return ModelControls.from_dict(stored) if isinstance(stored, dict) else ModelControls()

    def set(self, model_name: str, controls: ModelControls) -> ModelControls:
        """Validate and save; raises `ParleyError` (nothing saved) for a bad value."""
        controls = controls.validated()
        if self.settings is None:
            raise ParleyError("There is nowhere to save model settings.")
        self.settings.set(KEY_PREFIX + model_name, controls.to_dict())
        return controls

    def forget(self, model_name: str) -> None:
        if self.settings is not None:
            self.settings.delete(KEY_PREFIX + model_name)
