"""Sampling defaults for a new conversation, suited to the model it starts with."""

from __future__ import annotations

from app.core.llm.contract import Sampling

# Mistral recommends a low temperature for Mistral Small (3.x and later).
MISTRAL_SMALL_TEMPERATURE = 0.15
DEFAULT_TEMPERATURE = 0.7


def is_mistral_small(model: str) -> bool:
    key = model.lower().replace("_", "-").replace(" ", "-")
    return "mistral-small" in key


def default_sampling(model: str) -> Sampling:
    if is_mistral_small(model):
        return Sampling(temperature=MISTRAL_SMALL_TEMPERATURE)
    return Sampling(temperature=DEFAULT_TEMPERATURE)
