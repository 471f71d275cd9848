from __future__ import annotations

from app.core.llm.sampling_defaults import default_sampling


def test_mistral_small_conversations_start_cool() -> None:
    assert default_sampling("Mistral-Small-3.2-24B-Instruct-2506-Q4_K_M").temperature == 0.15
    assert default_sampling("mistral-small-latest").temperature == 0.15
    assert default_sampling("mistral_small_latest").temperature == 0.15
    assert default_sampling("SmolLM2-135M-Instruct.Q4_1").temperature == 0.7
    assert default_sampling("").temperature == 0.7
