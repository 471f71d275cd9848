"""The fit estimate: memory arithmetic and verdicts on made-up machines."""

from __future__ import annotations

import io
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from app.core.local.fit import (
    ModelShape,
    Verdict,
    compute_buffer_bytes,
    estimate,
    overhead_bytes,
)
from app.core.local.gguf import read_gguf, read_header
from app.core.local.hardware import GPU, Hardware
from app.core.local.model_controls import FlashAttention, KVCacheType, ModelControls
from tests.helpers.gguf_files import gguf_header, llama_metadata

if TYPE_CHECKING:
    from pathlib import Path

GB = 10**9


def machine(
    vram: int = 0, ram: int = 32 * GB, offload: bool = True, unified: bool = False
) -> Hardware:
    gpu = GPU("NVIDIA GeForce RTX 4090", "nvidia", vram, vram, 1008.0, "test", unified)
    gpus = (gpu,) if vram else ()
    return Hardware("Linux", "test CPU", 8, 16, ram, ram, 60.0, gpus, "CUDA" if offload else "CPU",
                    offload)  # fmt: skip


def mistral_small(weights: int = 14_330_000_000) -> ModelShape:
    meta = llama_metadata(40, **{"llama.embedding_length": 5120, "llama.attention.head_count": 32,
                                 "llama.attention.head_count_kv": 8,
                                 "llama.attention.key_length": 128,
                                 "llama.feed_forward_length": 32768,
                                 "llama.vocab_size": 131072,
                                 "llama.context_length": 131072})  # fmt: skip
    header, _ = gguf_header(meta, [])
    return ModelShape.from_header(read_header(io.BytesIO(header)), weights)


def test_kv_cache_matches_the_design_numbers_for_mistral_small() -> None:
    shape = mistral_small()
    assert shape.kv_bytes_per_token == 160 * 1024  # 160 KiB per token at f16
    fit = estimate(shape, machine(vram=24 * GB), n_ctx=8192)
    assert fit.kv_bytes == 8192 * 160 * 1024  # 1.25 GiB


def test_full_gpu_when_weights_kv_and_overhead_fit_in_vram() -> None:
    fit = estimate(mistral_small(), machine(vram=24 * GB), n_ctx=8192)
    assert fit.verdict is Verdict.FULL_GPU
    assert fit.gpu_layers == fit.total_layers == 40
    assert fit.speed_low is not None and fit.speed_high is not None
    assert 20 < fit.speed_low < fit.speed_high < 70  # RTX 4090 ceiling ~70 t/s
    # weights 14.33 + KV 1.34 + compute buffer 0.30 (512 tokens of f32 logits over 131k
    # tokens; flash attention is on for a GPU) + overhead 0.03 GB
    assert "needs 16.0 GB" in fit.explanation and "tokens/s" in fit.explanation
    assert fit.compute_bytes == 512 * 4 * (131072 + 3 * 5120) and fit.flash_attention


def test_partial_offload_names_the_layers_that_fit() -> None:
    fit = estimate(mistral_small(), machine(vram=8 * GB), n_ctx=8192)
    assert fit.verdict is Verdict.PARTIAL
    assert 0 < fit.gpu_layers < 40
    assert fit.label == f"partial offload ({fit.gpu_layers} of 40 layers)"


def test_cpu_only_without_a_gpu_or_a_gpu_build() -> None:
    assert estimate(mistral_small(), machine(), n_ctx=4096).verdict is Verdict.CPU
    no_backend = estimate(mistral_small(), machine(vram=24 * GB, offload=False), n_ctx=4096)
    assert no_backend.verdict is Verdict.CPU
    assert "cannot use the GPU" in no_backend.explanation


def test_too_big_when_neither_vram_nor_ram_holds_it() -> None:
    fit = estimate(mistral_small(), machine(vram=4 * GB, ram=8 * GB), n_ctx=32768)
    assert fit.verdict is Verdict.TOO_BIG
    assert fit.speed_low is None
    assert "smaller quantization" in fit.explanation


def test_apple_unified_memory_counts_once() -> None:
    fit = estimate(mistral_small(), machine(vram=24 * GB, ram=32 * GB, unified=True), n_ctx=8192)
    assert fit.verdict is Verdict.FULL_GPU
    small = estimate(mistral_small(), machine(vram=12 * GB, ram=16 * GB, unified=True), n_ctx=8192)
    assert small.verdict is not Verdict.FULL_GPU


def test_the_compute_buffer_without_flash_attention_can_push_a_model_off_the_gpu() -> None:
    # Mistral Small at 32k on a 24 GB GPU. Without flash attention llama.cpp reserves the
    # attention scores of all 32 heads over the whole context for a 512-token batch:
    # 2.2 GB that an estimate of weights + KV cache alone (20.1 GB) never saw.
    with_flash = estimate(mistral_small(), machine(vram=24 * GB), 32768)
    assert with_flash.verdict is Verdict.FULL_GPU and with_flash.compute_bytes < 0.31 * GB
    no_flash = ModelControls(context_length=32768, flash_attention=FlashAttention.OFF)
    reserved = compute_buffer_bytes(mistral_small(), 32768, 512, flash_attn=False)
    assert reserved == 512 * (4 * 32768 * 33 + 12 * 5120 + 8 * 4096 + 8 * 1024)
    fit = estimate(mistral_small(), machine(vram=24 * GB), 32768, no_flash)
    assert fit.verdict is Verdict.PARTIAL and fit.gpu_layers < 40
    assert fit.compute_bytes > reserved  # the CPU, running the other layers, has its own
    # A smaller batch shrinks it in proportion; a longer context grows it.
    small_batch = estimate(mistral_small(), machine(vram=24 * GB), 32768,
                           replace(no_flash, batch_size=128))  # fmt: skip
    assert small_batch.verdict is Verdict.FULL_GPU
    assert small_batch.compute_bytes * 4 == reserved  # all on the GPU


def test_a_quantized_kv_cache_shrinks_by_its_block_size() -> None:
    f16 = estimate(mistral_small(), machine(), 8192)
    q8 = estimate(mistral_small(), machine(), 8192, ModelControls(8192, kv_cache=KVCacheType.Q8_0))
    q4 = estimate(mistral_small(), machine(), 8192, ModelControls(8192, kv_cache=KVCacheType.Q4_0))
    assert q8.kv_bytes == f16.kv_bytes * 34 // 64 and q4.kv_bytes == f16.kv_bytes * 18 // 64
    assert q8.flash_attention and not f16.flash_attention  # quantized V needs it
    assert "q8_0 KV cache" in q8.explanation


def test_more_gpu_layers_than_fit_is_its_own_verdict() -> None:
    fit = estimate(mistral_small(), machine(vram=8 * GB), 8192, ModelControls(8192, gpu_layers=40))
    assert fit.verdict is Verdict.TOO_MANY_GPU_LAYERS and fit.speed_low is None
    assert fit.label == f"too many GPU layers ({fit.max_gpu_layers} of 40 fit)"
    assert "set GPU layers to auto or lower" in fit.explanation
    fewer = estimate(mistral_small(), machine(vram=8 * GB), 8192,
                     ModelControls(8192, gpu_layers=fit.max_gpu_layers))  # fmt: skip
    assert fewer.verdict is Verdict.PARTIAL and fewer.gpu_layers == fit.max_gpu_layers


@pytest.mark.parametrize(("n_ctx", "measured_mb"), [(2048, 235.2), (4096, 343.3), (8192, 560.2)])
def test_starter_estimate_matches_measured_llama_cpp_memory_at_full_context(
    starter_path: Path, n_ctx: int, measured_mb: float
) -> None:
    # RSS growth measured here after loading and filling the WHOLE context
    # (bench/fit_accuracy.py). After one 512-token batch it was 190.8 / 238.0 / 332.4 MB: an
    # estimate tuned on those fell 40 % short at 8k, where attention over the full context
    # needs its 166 MiB compute buffer.
    shape = ModelShape.from_header(read_gguf(starter_path), starter_path.stat().st_size)
    fit = estimate(shape, machine(), n_ctx=n_ctx)
    assert 0.90 <= fit.needed_bytes / 1e6 / measured_mb <= 1.10
    assert overhead_bytes(shape) < 64 * 2**20


COMPUTE_CHILD = r"""
import sys
from app.core.local.llama_backend import open_llama
from app.core.local.load_guard import LoadOptions
from app.core.local.model_controls import KVCacheType
n_ctx, flash, batch = int(sys.argv[2]), sys.argv[3] == "1", int(sys.argv[4])
open_llama(sys.argv[1], LoadOptions(n_ctx, 0, 1, flash, KVCacheType.F16, batch), verbose=True)
"""


@pytest.mark.parametrize(("n_ctx", "flash", "batch"),
                         [(2048, False, 512), (8192, False, 512), (8192, False, 256),
                          (8192, True, 512)])  # fmt: skip
def test_the_compute_buffer_model_matches_what_llama_cpp_reserves(
    starter_path: Path, n_ctx: int, flash: bool, batch: int
) -> None:
    import re
    import subprocess
    import sys

    from tests.helpers.starter import REPO

    proc = subprocess.run([sys.executable, "-c", COMPUTE_CHILD, str(starter_path), str(n_ctx),
                           "1" if flash else "0", str(batch)], cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=True)  # fmt: skip
    [reported] = re.findall(r"CPU compute buffer size = +([\d.]+) MiB", proc.stderr)
    shape = ModelShape.from_header(read_gguf(starter_path), starter_path.stat().st_size)
    predicted = compute_buffer_bytes(shape, n_ctx, batch, flash) / 2**20
    assert predicted == pytest.approx(float(reported), rel=0.02)
