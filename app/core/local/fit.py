"""Will this GGUF run well here? A memory estimate and a speed range, before downloading.

llama-cpp-python does not bind llama.cpp's own fit function, so the estimate
comes from the GGUF header and the model's controls (`ModelControls`):

- weights: the file size;
- KV cache: layers x KV heads x (K + V head dims) x context x bytes per element of
  the chosen KV type (f16 2, q8_0 34/32, q4_0 18/32);
- compute buffer: what llama.cpp reserves for one batch (`sched_reserve: CPU compute
  buffer size` in its log). Modelled from llama.cpp's graph: per batch token, the larger
  of the output stage (f32 logits over the vocabulary) and the attention stage (without
  flash attention the f32 attention scores for every head over the whole context, which
  is what grows with context and batch; with it, only the f16 mask). The constants were
  read from llama.cpp 0.3.36's log on the tiny Mistral test model and a vocabulary-less
  one, and hold on the starter to the byte. A GPU holds the whole reservation; in RAM
  only the pages a batch touches count (one row of logits), plus the CPU backend's f16
  work buffer for the attention scores;
- a fixed base for llama.cpp's bookkeeping and thread pools;

compared with 90 % of free VRAM and of available RAM (as Jan's estimator does).
`bench/fit_accuracy.py` checks it against llama.cpp's real memory after filling the whole
context, on models the constants were not read from. Token generation is memory-bandwidth
bound: tokens/s is about bandwidth / bytes of weights read per token, and llama.cpp
reaches 0.5-0.8 of that ceiling.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING

from app.core.local.model_controls import DEFAULT_CONTEXT, ModelControls

if TYPE_CHECKING:
    from app.core.local.gguf import GGUFHeader
    from app.core.local.hardware import Hardware

MIB = 1024**2
BASE_OVERHEAD = 24 * MIB  # tokenizer, thread pools, llama.cpp's own bookkeeping
GPU_RUNTIME = 384 * MIB  # CUDA/ROCm/Vulkan context, kernels and library workspaces
USABLE_FRACTION = 0.9  # leave 10 % of free memory to everything else
SPEED_EFFICIENCY = (0.5, 0.8)  # share of the bandwidth ceiling llama.cpp reaches
KV_PAD = 256  # llama.cpp rounds the KV cache it attends over up to this many cells

_LAYER = re.compile(r"^blk\.(\d+)\.")


class Verdict(StrEnum):
    FULL_GPU = "full GPU offload"
    PARTIAL = "partial offload"
    CPU = "CPU only"
    TOO_MANY_GPU_LAYERS = "too many GPU layers"
    TOO_BIG = "too big"


@dataclass(frozen=True, slots=True)
class ModelShape:
    """The numbers of a model that decide its memory and speed."""

    weights_bytes: int  # all parts of the file
    n_layers: int
    layer_bytes: int  # weights of one repeating layer
    kv_bytes_per_token: int  # at f16; 0 when the header does not say
    bytes_per_token: int  # weights read to generate one token
    n_embd: int
    n_ff: int
    n_head: int
    context_length: int | None
    architecture: str
    n_vocab: int = 0  # 0 when the header does not say
    q_dim: int = 0  # n_head x key head dim
    kv_dim: int = 0  # n_head_kv x key head dim

    @classmethod
    def from_header(cls, header: GGUFHeader, weights_bytes: int) -> ModelShape:
        layers = header.block_count or 1
        per_layer: dict[int, int] = {}
        other = embedding = experts = 0
        n_vocab = int(header.arch_value("vocab_size") or 0)
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
                    if len(t.shape) == 2 and not n_vocab:
                        n_vocab = t.shape[1]  # GGUF order: [n_embd, n_vocab]
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
        n_embd = int(header.arch_value("embedding_length") or 0)
        n_head = _first_int(header.arch_value("attention.head_count"))
        n_head_kv = _first_int(header.arch_value("attention.head_count_kv")) or n_head
        head_dim = _first_int(header.arch_value("attention.key_length"))
        if not head_dim and n_head:
            head_dim = n_embd // n_head
        return cls(
            weights_bytes=weights_bytes,
            n_layers=layers,
            layer_bytes=layer_bytes,
            kv_bytes_per_token=header.kv_bytes_per_token() or 0,
            bytes_per_token=max(1, read),
            n_embd=n_embd,
            n_ff=_first_int(header.arch_value("feed_forward_length")),
            n_head=n_head,
            context_length=header.context_length,
            architecture=header.architecture,
            n_vocab=n_vocab,
            q_dim=n_head * head_dim,
            kv_dim=n_head_kv * head_dim,
        )

    def kv_bytes(self, n_ctx: int, bytes_per_element: float) -> int:
        """The KV cache at `n_ctx` tokens with this element size (bytes)."""
        return int(self.kv_bytes_per_token / 2 * bytes_per_element * n_ctx)


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


def _stages(shape: ModelShape, n_ctx: int, flash_attn: bool) -> tuple[int, int, int]:
    """Bytes per batch token of the output stage and the attention stage, and the padded
    context the attention runs over."""
    n_kv = -(-n_ctx // KV_PAD) * KV_PAD
    activations = 12 * shape.n_embd + 8 * shape.q_dim + 8 * shape.kv_dim
    output = 4 * shape.n_vocab + 12 * shape.n_embd
    if flash_attn:
        attention = 2 * n_kv + activations + 4 * shape.n_embd
    else:
        attention = 4 * n_kv * (shape.n_head + 1) + activations
    return output, attention, n_kv


def compute_buffer_bytes(shape: ModelShape, n_ctx: int, n_batch: int, flash_attn: bool) -> int:
    """The compute buffer llama.cpp reserves for a batch of `n_batch` tokens at `n_ctx`
    (bytes; its log's "compute buffer size"). A GPU holds all of it.

    Per batch token, the peak of two stages of the graph: the output (f32 logits over the
    vocabulary, plus the hidden state) and attention (without flash attention the f32
    scores of every head over the whole padded context, plus its f32 mask; with flash
    attention only an f16 mask), plus the activations around them.
    """
    output, attention, _ = _stages(shape, n_ctx, flash_attn)
    return n_batch * max(output, attention)


def cpu_compute_bytes(shape: ModelShape, n_ctx: int, n_batch: int, flash_attn: bool) -> int:
    """What the compute buffer occupies in RAM when the CPU runs the layers (bytes).

    The CPU's buffer is reserved like a GPU's, but only the pages a batch touches are
    resident: chat asks for the logits of one token per batch, so the output stage touches
    one row, and the attention stage over the full context is the peak once the context
    fills. The CPU backend also converts the attention scores to f16 for the product with
    V in a work buffer of its own (without flash attention).
    """
    _, attention, n_kv = _stages(shape, n_ctx, flash_attn)
    work = 0 if flash_attn else 2 * shape.n_head * n_kv * n_batch
    resident = n_batch * attention + 4 * shape.n_vocab
    return min(resident, compute_buffer_bytes(shape, n_ctx, n_batch, flash_attn)) + work


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
    compute_bytes: int = 0  # llama.cpp's compute buffers (on each device that runs layers)
    kv_cache: str = "f16"
    flash_attention: bool = False
    n_batch: int = 512
    max_gpu_layers: int = 0  # how many layers the GPU holds with these controls

    @property
    def needed_bytes(self) -> int:
        return self.weights_bytes + self.kv_bytes + self.compute_bytes + self.overhead_bytes

    @property
    def label(self) -> str:
        if self.verdict is Verdict.PARTIAL:
            return f"partial offload ({self.gpu_layers} of {self.total_layers} layers)"
        if self.verdict is Verdict.TOO_MANY_GPU_LAYERS:
            return f"too many GPU layers ({self.max_gpu_layers} of {self.total_layers} fit)"
        return str(self.verdict)

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["verdict"] = str(self.verdict)
        data["label"] = self.label
        data["needed_bytes"] = self.needed_bytes
        return data


def overhead_bytes(shape: ModelShape) -> int:
    """What llama.cpp holds besides weights, KV cache and compute buffer (bytes)."""
    return BASE_OVERHEAD + 4 * shape.n_vocab  # + the output buffer: one row of logits


def estimate(
    shape: ModelShape,
    hw: Hardware,
    n_ctx: int | None = None,
    controls: ModelControls | None = None,
) -> FitEstimate:
    """The memory `shape` needs on `hw` with `controls` (default: automatic everything) at
    `n_ctx` tokens (default: the controls' context, else min(trained, 4096)), where it runs
    and how fast. Pure arithmetic: cheap enough to run on every change of a control."""
    controls = controls or ModelControls(
        context_length=n_ctx or min(shape.context_length or DEFAULT_CONTEXT, DEFAULT_CONTEXT)
    )
    n_ctx = n_ctx or controls.context_length
    layers = shape.n_layers
    kv = shape.kv_bytes(n_ctx, controls.kv_cache.bytes_per_element)
    kv_layer = kv // max(1, layers)
    overhead = overhead_bytes(shape)
    vram = int(hw.vram_free * USABLE_FRACTION) if hw.gpu_offload else 0
    ram = int(hw.ram_available * USABLE_FRACTION)
    unified = any(g.unified for g in hw.gpus)

    batch = controls.batch_size
    # The most layers the GPU holds: each needs its weights and KV cache, and a GPU that
    # runs any layer also holds the runtime and a full compute buffer.
    gpu_flash = controls.uses_flash_attention(offloaded=True)
    gpu_compute = compute_buffer_bytes(shape, n_ctx, batch, gpu_flash)
    gpu_fixed = GPU_RUNTIME + gpu_compute
    per_layer = shape.layer_bytes + kv_layer
    fitting = 0
    if vram > gpu_fixed:
        everything = shape.weights_bytes + kv + gpu_fixed
        fitting = layers if everything <= vram else min(layers - 1, (vram - gpu_fixed) // per_layer)
    wanted = fitting if controls.gpu_layers is None else min(controls.gpu_layers, layers)
    gpu_layers = wanted if hw.gpu_offload else 0
    flash = controls.uses_flash_attention(offloaded=gpu_layers > 0)
    cpu_compute = cpu_compute_bytes(shape, n_ctx, batch, flash)
    cpu_total = shape.weights_bytes + kv + cpu_compute + overhead

    if gpu_layers == layers:
        compute_bytes = gpu_compute
        on_gpu = shape.weights_bytes + kv + gpu_fixed
        in_ram = overhead + (on_gpu if unified else 0)
    elif gpu_layers:
        # The CPU runs the other layers with a compute buffer of its own.
        compute_bytes = gpu_compute + cpu_compute
        on_gpu = gpu_layers * per_layer + gpu_fixed
        in_ram = cpu_total - gpu_layers * per_layer + (on_gpu if unified else 0)
    else:
        compute_bytes, on_gpu, in_ram = cpu_compute, 0, cpu_total
    if gpu_layers > fitting:
        verdict = Verdict.TOO_MANY_GPU_LAYERS
    elif gpu_layers == layers and in_ram <= ram:
        verdict = Verdict.FULL_GPU
    elif gpu_layers and in_ram <= ram:
        verdict = Verdict.PARTIAL
    else:
        if gpu_layers:  # the GPU would not help: judge the CPU on its own
            flash = controls.uses_flash_attention(offloaded=False)
            compute_bytes = cpu_compute_bytes(shape, n_ctx, batch, flash)
            cpu_total = shape.weights_bytes + kv + compute_bytes + overhead
        verdict = Verdict.CPU if cpu_total <= ram else Verdict.TOO_BIG
        gpu_layers = 0
    runs = verdict in (Verdict.FULL_GPU, Verdict.PARTIAL, Verdict.CPU)
    low, high = _speed(shape, hw, gpu_layers) if runs else (None, None)
    result = FitEstimate(
        verdict, int(gpu_layers), layers, n_ctx, shape.weights_bytes, kv, overhead, vram, ram,
        low, high, "", compute_bytes=compute_bytes, kv_cache=str(controls.kv_cache),
        flash_attention=flash,
        n_batch=controls.batch_size, max_gpu_layers=int(fitting),
    )  # fmt: skip
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
        f"needs {_gb(fit.needed_bytes)}: weights {_gb(fit.weights_bytes)} + {fit.kv_cache} KV "
        f"cache {_gb(fit.kv_bytes)} at {fit.n_ctx:,} tokens + compute buffer "
        f"{_gb(fit.compute_bytes)} (flash attention {'on' if fit.flash_attention else 'off'}, "
        f"batch {fit.n_batch}) + overhead {_gb(fit.overhead_bytes)}",
        f"usable: {_gb(fit.vram_budget)} VRAM, {_gb(fit.ram_budget)} RAM (90 % of free)",
    ]
    if not shape.kv_bytes_per_token:
        parts.append("the header does not give the KV cache size, so it is left out")
    if hw.gpus and not hw.gpu_offload:
        parts.append("this llama.cpp build cannot use the GPU")
    if fit.verdict is Verdict.TOO_MANY_GPU_LAYERS:
        parts.append(
            f"the GPU holds {fit.max_gpu_layers} of {fit.total_layers} layers with these "
            "settings: set GPU layers to auto or lower"
        )
    elif fit.speed_low is not None:
        parts.append(f"expect about {speed_range(fit)}")
    else:
        parts.append("pick a smaller quantization, a shorter context or a q8_0 KV cache")

    return replace(fit, explanation="; ".join(parts) + ".")
