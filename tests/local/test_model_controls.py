"""Per-model load controls: saved per model, applied by llama.cpp, set from the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from app.core.context import AppContext
from app.core.foundation.errors import ParleyError, PromptTooLongError
from app.core.llm.contract import ChatMessage, GenerationRequest, Outcome, Sampling
from app.core.local.catalog import STARTER_NAME
from app.core.local.model_controls import (
    FlashAttention,
    KVCacheType,
    ModelControls,
    parse_auto_int,
)
from tests.helpers.starter import REPO

if TYPE_CHECKING:
    from pathlib import Path

    from app.core.llm.contract import GenerationResult
    from app.core.local.llama_backend import LocalBackend


def run(backend: LocalBackend, text: str, max_tokens: int = 8) -> GenerationResult:
    # The conversation's own context length (4096 here) no longer sizes a local model.
    sampling = Sampling(temperature=0.0, max_tokens=max_tokens)
    request = GenerationRequest((ChatMessage("user", text),), sampling, STARTER_NAME)
    gen = backend.stream(request, threading.Event())
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]


def test_controls_round_trip_and_unreadable_stored_values_fall_back() -> None:
    controls = ModelControls(8192, 12, 4, KVCacheType.Q8_0, FlashAttention.ON, 1024)
    assert ModelControls.from_dict(json.loads(json.dumps(controls.to_dict()))) == controls
    assert controls.to_dict()["kv_cache"] == "q8_0" and controls.to_dict()["gpu_layers"] == 12
    broken = {"context_length": "lots", "kv_cache": "q3_x", "batch_size": 256, "threads": "auto"}
    assert ModelControls.from_dict(broken) == ModelControls(batch_size=256)
    # A stored combination llama.cpp would refuse is not used as is.
    refused = {"kv_cache": "q4_0", "flash_attention": "off"}
    assert ModelControls.from_dict(refused) == ModelControls()


def test_bad_controls_say_what_to_change() -> None:
    with pytest.raises(ParleyError, match=r"q8_0 KV cache needs flash attention\. Set flash"):
        ModelControls(kv_cache=KVCacheType.Q8_0, flash_attention=FlashAttention.OFF).validated()
    with pytest.raises(ParleyError, match="Context length must be between 256"):
        ModelControls(context_length=100).validated()
    with pytest.raises(ParleyError, match="Batch size must be between 32 and 8192"):
        ModelControls(batch_size=1).validated()
    with pytest.raises(ParleyError, match="GPU layers must be 0 or more, or auto"):
        ModelControls(gpu_layers=-3).validated()
    assert parse_auto_int("auto", "x") is None and parse_auto_int(" 7 ", "x") == 7
    with pytest.raises(ParleyError, match="--gpu-layers must be a whole number or auto"):
        parse_auto_int("all", "--gpu-layers")


def test_flash_attention_auto_follows_the_gpu_and_the_kv_type() -> None:
    auto = ModelControls()
    assert not auto.uses_flash_attention(offloaded=False)
    assert auto.uses_flash_attention(offloaded=True)
    assert replace(auto, kv_cache=KVCacheType.Q4_0).uses_flash_attention(offloaded=False)
    assert not replace(auto, flash_attention=FlashAttention.OFF).uses_flash_attention(True)


def test_controls_are_saved_per_model_and_survive_a_restart(data_dir: Path) -> None:
    ctx = AppContext.open(data_dir)
    assert ctx.model_controls.get(STARTER_NAME) == ModelControls()
    ctx.model_controls.set(STARTER_NAME, ModelControls(context_length=2048, threads=1))
    assert ctx.model_controls.get("another-model") == ModelControls()
    ctx.close()
    reopened = AppContext.open(data_dir)
    try:
        assert reopened.model_controls.get(STARTER_NAME) == ModelControls(2048, threads=1)
        assert reopened.local.controls.get(STARTER_NAME).context_length == 2048
    finally:
        reopened.close()


def test_llama_cpp_loads_with_the_models_controls_and_reloads_when_they_change(
    ctx: AppContext,
) -> None:
    q8 = ModelControls(context_length=1024, threads=1, kv_cache=KVCacheType.Q8_0, batch_size=256)
    ctx.model_controls.set(STARTER_NAME, q8)
    result = run(ctx.local, "Name a colour.")
    assert result.outcome is Outcome.DONE and result.text.strip()
    options = ctx.local.loaded_options
    assert options is not None
    assert (options.n_ctx, options.n_threads, options.kv_cache, options.n_batch) == (
        1024, 1, KVCacheType.Q8_0, 256)  # fmt: skip
    assert options.flash_attn  # llama.cpp needs it for a quantized V cache
    llm = ctx.local._loaded.llm  # type: ignore[union-attr]
    assert (llm.n_ctx(), llm.context_params.type_k, llm.context_params.n_ubatch) == (1024, 8, 256)
    assert result.extra["n_ctx"] == 1024
    # The context is the model's: a prompt longer than 1,024 tokens is refused, although
    # the conversation's own context length says 4,096.
    with pytest.raises(PromptTooLongError, match="context"):
        run(ctx.local, "word " * 1500)
    assert ctx.local.loads == 1
    ctx.model_controls.set(STARTER_NAME, replace(q8, context_length=2048))
    assert run(ctx.local, "word " * 1500, max_tokens=4).outcome is Outcome.DONE
    assert ctx.local.loads == 2 and ctx.local.loaded_options.n_ctx == 2048  # type: ignore[union-attr]


def test_context_above_what_the_model_was_trained_for_is_capped(ctx: AppContext) -> None:
    ctx.model_controls.set(STARTER_NAME, ModelControls(context_length=32768))
    run(ctx.local, "Hi")
    assert ctx.local.loaded_options.n_ctx == 8192  # type: ignore[union-attr]


def parley(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=120, check=False)  # fmt: skip


def test_models_use_sets_the_controls_from_the_cli(data_dir: Path) -> None:
    proc = parley("models", "use", STARTER_NAME, "--ctx", "2048", "--gpu-layers", "0",
                  "--kv", "q8_0")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"Active model: {STARTER_NAME}" in proc.stdout
    assert "context 2,048 · GPU layers 0" in proc.stdout and "KV cache q8_0" in proc.stdout
    assert "q8_0 KV cache" in proc.stdout and "compute buffer" in proc.stdout  # the fit
    [listed] = json.loads(parley("models", "list", "--json").stdout)
    assert listed["active"] and listed["controls"] == {
        "context_length": 2048, "gpu_layers": 0, "threads": None, "kv_cache": "q8_0",
        "flash_attention": "auto", "batch_size": 512}  # fmt: skip
    shown = json.loads(parley("models", "use", STARTER_NAME, "--gpu-layers", "auto",
                              "--json").stdout)  # fmt: skip
    assert shown["controls"]["gpu_layers"] is None and shown["controls"]["kv_cache"] == "q8_0"
    assert shown["fit"]["kv_cache"] == "q8_0" and shown["fit"]["n_ctx"] == 2048


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--kv", "q4_0", "--flash-attn", "off"), "q4_0 KV cache needs flash attention"),
        (("--ctx", "65536"), "trained for 8,192 tokens of context. Pass --ctx 8192 or less"),
        (("--gpu-layers", "many"), "--gpu-layers must be a whole number or auto"),
        (("--batch", "5"), "Batch size must be between 32 and 8192"),
    ],
)
def test_models_use_refuses_bad_controls_and_keeps_the_old_ones(
    data_dir: Path, args: tuple[str, ...], message: str
) -> None:
    assert parley("models", "use", STARTER_NAME, "--ctx", "2048").returncode == 0
    proc = parley("models", "use", STARTER_NAME, *args)
    assert proc.returncode != 0 and message in proc.stderr
    [listed] = json.loads(parley("models", "list", "--json").stdout)
    assert listed["controls"]["context_length"] == 2048 and listed["controls"]["kv_cache"] == "f16"
