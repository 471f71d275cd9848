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

from typing import TYPE_CHECKING

from app.core.providers._openai import OpenAICompatBackend

if TYPE_CHECKING:
    from app.core.llm.contract import GenerationRequest


def routed_model(model: str, hf_provider: str) -> str:
    """`org/model:policy`, unless the id already names its own policy or provider."""
    if ":" in model or not hf_provider:
        return model
    return f"{model}:{hf_provider}"


class HFBackend(OpenAICompatBackend):
    """The router speaks the OpenAI wire format; only the model id differs."""

    def wire_model(self, model: str) -> str:
        return routed_model(model, self.config.hf_provider)

    def billing_model(self, model: str) -> str:
        """The id as sent to the router (with its provider or policy suffix), for pricing."""
        return self.wire_model(model)

    def request_headers(self, key: str | None, request: GenerationRequest) -> dict[str, str]:
        headers = self.headers(key)
        # A project's organisation pays (X-HF-Bill-To); only HF tokens bill through HF.
        if request.bill_to and (key or "").startswith("hf_"):
            headers["X-HF-Bill-To"] = request.bill_to
        return headers
