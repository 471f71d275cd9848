"""Will this GGUF run well here? A memory estimate and a speed range, before downloading.

llama-cpp-python does not bind llama.cpp's own fit function, so the estimate
comes from the GGUF header: weights (the file size) + KV cache at the chosen
context (2 x layers x KV heads x head dim x 2 bytes per token) + runtime
overhead, compared with 90 % of free VRAM and of available RAM (as Jan's
estimator does). The overhead (a fixed base plus the compute buffers one
512-token batch touches) was calibrated against llama.cpp's RSS growth for the
starter model at 2k-8k context (bench/fit_accuracy.py). Token generation is
memory-bandwidth bound: tokens/s is about bandwidth / bytes of weights read per
token, and llama.cpp reaches 0.5-0.8 of that ceiling.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.core.local.gguf import GGUFHeader
    from app.core.local.hardware import Hardware

MIB = 1024**2
DEFAULT_CONTEXT = 4096
N_UBATCH = 512
BASE_OVERHEAD = 24 * MIB  # tokenizer, thread pools, llama.cpp's own bookkeeping
GPU_RUNTIME = 384 * MIB  # CUDA/ROCm/Vulkan context and the GPU's full compute buffers
USABLE_FRACTION = 0.9  # leave 10 % of free memory to everything else
SPEED_EFFICIENCY = (0.5, 0.8)  # share of the bandwidth ceiling llama.cpp reaches

_LAYER = re.compile(r"^blk\.(\d+)\.")


class Verdict(StrEnum):
    FULL_GPU = "full GPU offload"
    PARTIAL = "partial offload"
    CPU = "CPU only"
    TOO_BIG = "too big"


@dataclass(frozen=True, slots=True)
class ModelShape:
    """The numbers of a model that decide its memory and speed."""

    weights_bytes: int  # all parts of the file
    n_layers: int
    layer_bytes: int  # weights of one repeating layer
    kv_bytes_per_token: int  # 0 when the header does not say
    bytes_per_token: int  # weights read to generate one token
    n_embd: int
    n_ff: int
    n_head: int
    context_length: int | None
    architecture: str

    @classmethod
    def from_header(cls, header: GGUFHeader, weights_bytes: int) -> ModelShape:
        layers = header.block_count or 1
        per_layer: dict[int, int] = {}
        other = embedding = experts = 0
        for t in header.tensors:
            size = t.nbytes or 0
            if match := _LAYER.match(t.name):
                per_layer[int(match.group(1))] = per_layer.get(int(match.group(1)), 0) + size
                if "_exps" in t.name:
                    experts += size
            else:
                other += size
                if t.name == "token_embd.weight":
                    embedding = size
        # A split model's first part may hold only some layers: scale from the total size.
        layer_bytes = max(0, weights_bytes - other) // layers if layers else weights_bytes
        if per_layer and len(per_layer) == layers:
            layer_bytes = sum(per_layer.values()) // layers
        read = weights_bytes - embedding  # generation reads one row of the embedding
        expert_count = _first_int(header.arch_value("expert_count"))
        expert_used = _first_int(header.arch_value("expert_used_count"))
        if experts and expert_count and expert_used:
            scale = weights_bytes / max(1, sum(t.nbytes or 0 for t in header.tensors))
            read -= int(experts * scale * (1 - expert_used / expert_count))
        return cls(
            weights_bytes=weights_bytes,
            n_layers=layers,
            layer_bytes=layer_bytes,
            kv_bytes_per_token=header.kv_bytes_per_token() or 0,
            bytes_per_token=max(1, read),
            n_embd=_first_int(header.arch_value("embedding_length")),
            n_ff=_first_int(header.arch_value("feed_forward_length")),
            n_head=_first_int(header.arch_value("attention.head_count")),
            context_length=header.context_length,
            architecture=header.architecture,
        )


def _first_int(value: object) -> int:
    # Some architectures store per-layer lists (e.g. head counts); the first is enough here.
    # Anything else than a finite number (a hostile file's string, NaN) counts as unknown.
    if isinstance(value, list):
        value = value[0] if value else 0
    if isinstance(value, bool):
        return 0
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else 0
    return value if isinstance(value, int) else 0


@dataclass(frozen=True, slots=True)
class FitEstimate:
    verdict: Verdict
    gpu_layers: int
    total_layers: int
    n_ctx: int
    weights_bytes: int
    kv_bytes: int
    overhead_bytes: int
    vram_budget: int
    ram_budget: int
    speed_low: float | None  # tokens/s
    speed_high: float | None
    explanation: str

    @property
    def needed_bytes(self) -> int:
        return self.weights_bytes + self.kv_bytes + self.overhead_bytes

    @property
    def label(self) -> str:
        if self.verdict is Verdict.PARTIAL:
            return f"partial offload ({self.gpu_layers} of {self.total_layers} layers)"
        return str(self.verdict)

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["verdict"] = str(self.verdict)
        data["label"] = self.label
        data["needed_bytes"] = self.needed_bytes
        return data


def overhead_bytes(shape: ModelShape) -> int:
    """Base plus the activations and attention scores of one 512-token batch (f32)."""
    per_token = 4 * shape.n_embd + 2 * shape.n_ff + shape.n_head * N_UBATCH
    return BASE_OVERHEAD + N_UBATCH * 4 * per_token


def estimate(shape: ModelShape, hw: Hardware, n_ctx: int | None = None) -> FitEstimate:
    n_ctx = n_ctx or min(shape.context_length or DEFAULT_CONTEXT, DEFAULT_CONTEXT)
    kv = shape.kv_bytes_per_token * n_ctx
    overhead = overhead_bytes(shape)
    layers = shape.n_layers
    kv_layer = kv // max(1, layers)
    vram = int(hw.vram_free * USABLE_FRACTION) if hw.gpu_offload else 0
    ram = int(hw.ram_available * USABLE_FRACTION)
    total = shape.weights_bytes + kv + overhead
    unified = any(g.unified for g in hw.gpus)

    gpu_layers = 0
    if vram > GPU_RUNTIME:
        if total + GPU_RUNTIME <= vram:
            gpu_layers = layers
        else:
            per = shape.layer_bytes + kv_layer
            gpu_layers = max(0, min(layers - 1, (vram - GPU_RUNTIME - overhead) // max(1, per)))
    on_gpu = gpu_layers * (shape.layer_bytes + kv_layer) + (GPU_RUNTIME if gpu_layers else 0)
    if gpu_layers == layers:
        on_gpu = total + GPU_RUNTIME
    in_ram = max(0, total - on_gpu) + (on_gpu if unified else 0)
    if gpu_layers == layers and (not unified or in_ram <= ram):
        verdict = Verdict.FULL_GPU
    elif gpu_layers and in_ram <= ram:
        verdict = Verdict.PARTIAL
    elif total <= ram:
        verdict, gpu_layers = Verdict.CPU, 0
    else:
        verdict, gpu_layers = Verdict.TOO_BIG, 0
    low, high = _speed(shape, hw, gpu_layers) if verdict is not Verdict.TOO_BIG else (None, None)
    result = FitEstimate(verdict, int(gpu_layers), layers, n_ctx, shape.weights_bytes, kv,
                         overhead, vram, ram, low, high, "")  # fmt: skip
    return _with_explanation(result, shape, hw)


def _speed(shape: ModelShape, hw: Hardware, gpu_layers: int) -> tuple[float, float]:
    gpu_share = gpu_layers / max(1, shape.n_layers)
    gpu_bw = min((g.bandwidth_gbs for g in hw.gpus), default=hw.cpu_bandwidth_gbs) * 1e9
    cpu_bw = hw.cpu_bandwidth_gbs * 1e9
    seconds = shape.bytes_per_token * (gpu_share / gpu_bw + (1 - gpu_share) / cpu_bw)
    low, high = SPEED_EFFICIENCY
    return round(low / seconds, 1), round(high / seconds, 1)


def speed_range(fit: FitEstimate) -> str:
    if fit.speed_low is None or fit.speed_high is None:
        return ""
    return f"{fit.speed_low:,.0f}-{fit.speed_high:,.0f} tokens/s"


def _gb(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def _with_explanation(fit: FitEstimate, shape: ModelShape, hw: Hardware) -> FitEstimate:
    parts = [
        f"needs {_gb(fit.needed_bytes)}: weights {_gb(fit.weights_bytes)} + KV cache "
        f"{_gb(fit.kv_bytes)} at {fit.n_ctx:,} tokens + overhead {_gb(fit.overhead_bytes)}",
        f"usable: {_gb(fit.vram_budget)} VRAM, {_gb(fit.ram_budget)} RAM (90 % of free)",
    ]
    if not shape.kv_bytes_per_token:
        parts.append("the header does not give the KV cache size, so it is left out")
    if hw.gpus and not hw.gpu_offload:
        parts.append("this llama.cpp build cannot use the GPU")
    if fit.speed_low is not None:
        parts.append(f"expect about {speed_range(fit)}")
    else:
        parts.append("pick a smaller quantization or a shorter context")

    return replace(fit, explanation="; ".join(parts) + ".")
