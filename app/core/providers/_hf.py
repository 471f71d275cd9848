"""Hugging Face Inference Providers through the router's OpenAI-compatible `/v1`.

The model id carries the routing policy or provider as a suffix
(`org/model:fastest`, `:cheapest`, `:preferred`, `:groq`), as
`huggingface_hub.InferenceClient(provider=...)` would send it.

The requests go through the same streaming client as the OpenAI-compatible
kind rather than `InferenceClient.chat_completion(stream=True)`: that client
swallows the stream's `[DONE]` (so a stream cut off mid-answer looked
complete), drops a body that is not Server-Sent Events (a provider ignoring
`stream: true` looked like an empty answer), and keeps the response to itself,
so Stop could not close it and waited for the read timeout.
"""

from __future__ import annotations

from app.core.providers._openai import OpenAICompatBackend


def routed_model(model: str, hf_provider: str) -> str:
    """`org/model:policy`, unless the id already names its own policy or provider."""
    if ":" in model or not hf_provider:
        return model
    return f"{model}:{hf_provider}"


class HFBackend(OpenAICompatBackend):
    """The router speaks the OpenAI wire format; only the model id differs."""

    def wire_model(self, model: str) -> str:
        return routed_model(model, self.config.hf_provider)
