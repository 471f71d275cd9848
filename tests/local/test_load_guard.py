"""At load time: too big is refused before llama.cpp runs, an unknown architecture says so."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from app.core.foundation.errors import ModelError
from app.core.local.model_controls import ModelControls
from tests.helpers.gguf_files import gguf_header, huge_gguf_header, llama_metadata

if TYPE_CHECKING:
    from app.core.context import AppContext


def test_too_big_model_is_refused_before_llama_cpp_loads_it(ctx: AppContext) -> None:
    header, size = huge_gguf_header()
    path = ctx.catalog.models_dir / "Mistral-Huge-Q4_K_M.gguf"
    with path.open("wb") as f:
        f.write(header)
        f.truncate(size)  # sparse: 200 GB that take no disk space
    assert "Mistral-Huge-Q4_K_M" in [m.name for m in ctx.catalog.list()]
    with pytest.raises(ModelError, match="too big for this machine") as info:
        ctx.local.preload("Mistral-Huge-Q4_K_M")
    assert "smaller quantization" in str(info.value)
    assert ctx.local.loads == 0
    ctx.local.preload("SmolLM2-135M-Instruct.Q4_1")  # and the app carries on
    assert ctx.local.loads == 1


def test_unsupported_architecture_is_a_clear_error(ctx: AppContext) -> None:
    meta = llama_metadata(1, **{"general.architecture": "parley-test-arch"})
    header, size = gguf_header(meta, [("blk.0.attn_q.weight", (64, 64))])
    (ctx.catalog.models_dir / "Alien-Q8_0.gguf").write_bytes(header + b"\0" * size)
    with pytest.raises(ModelError, match=r"llama\.cpp couldn't load Alien-Q8_0") as info:
        ctx.local.preload("Alien-Q8_0")
    assert "architecture this build of llama.cpp does not support" in str(info.value)


def test_partial_offload_when_the_gpu_holds_only_some_layers(
    ctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.core.local import load_guard
    from app.core.local.hardware import GPU, Hardware

    header, size = huge_gguf_header(40, 300_000_000)  # ~12 GB of weights
    path = ctx.catalog.models_dir / "Mid-Q4_K_M.gguf"
    with path.open("wb") as f:
        f.write(header)
        f.truncate(size)
    gpu = GPU("NVIDIA GeForce RTX 4060", "nvidia", 8 * 10**9, 8 * 10**9, 272.0, "test")
    hw = Hardware("Linux", "cpu", 8, 16, 64 * 10**9, 64 * 10**9, 60.0, (gpu,), "CUDA", True)
    monkeypatch.setattr(load_guard, "cached_probe", lambda: hw)
    monkeypatch.setattr(load_guard, "memory", lambda: (64 * 10**9, 64 * 10**9))
    model = ctx.catalog.resolve("Mid-Q4_K_M")
    auto = load_guard.plan_load(model, ModelControls())
    assert 0 < auto.options.n_gpu_layers < 40
    assert auto.options.flash_attn  # auto: on when layers run on the GPU
    cpu = load_guard.plan_load(model, ModelControls(gpu_layers=0))
    assert cpu.options.n_gpu_layers == 0  # an explicit CPU choice stays
    assert not cpu.options.flash_attn
    # Asking for more layers than the GPU holds is refused before llama.cpp runs out of VRAM.
    with pytest.raises(ModelError, match="40 GPU layers were asked for") as info:
        load_guard.plan_load(model, ModelControls(gpu_layers=40))
    assert f"the GPU holds {auto.options.n_gpu_layers} of 40" in str(info.value)
    assert "Set GPU layers to auto" in str(info.value)
