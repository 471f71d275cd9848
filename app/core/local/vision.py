"""Images for local models (issue 17): a multimodal projector GGUF beside the model.

Vision GGUFs ship as two files: the language model and its projector
(`mmproj-….gguf`, as llama.cpp's `llama-mtmd-cli --mmproj` takes). When one
sits in the model's folder, a turn with images goes through llama-cpp-python's
multimodal handler (`MTMDChatHandler`), which encodes the images and renders
the model's own chat template; turns without images keep Parley's exact
prompt path (`prompt_tokens`).
"""

from __future__ import annotations

import base64
import logging
import time
from typing import TYPE_CHECKING, Any

from app.core.foundation.errors import ModelError
from app.core.llm.contract import GenerationResult, Outcome, TokenSource, Usage

if TYPE_CHECKING:
    from collections.abc import Generator
    from pathlib import Path
    from threading import Event

    import llama_cpp

    from app.core.llm.contract import ChatMessage, GenerationRequest
    from app.core.local.catalog import InstalledModel

logger = logging.getLogger(__name__)

_handlers: dict[int, Any] = {}  # id(Llama) -> its handler: the projector loads once per model


def projector_for(model_path: Path) -> Path | None:
    """The multimodal projector GGUF beside `model_path`, or None."""
    folder = model_path.parent
    try:
        candidates = sorted(p for p in folder.iterdir() if p.is_file()
                            and p.suffix.lower() == ".gguf" and "mmproj" in p.name.lower())
    except OSError:
        return None
    return candidates[0] if candidates else None


def _payload(messages: tuple[ChatMessage, ...]) -> list[dict[str, Any]]:
    payload: list[dict[str, Any]] = []
    for m in messages:
        if not m.images:
            payload.append({"role": m.role, "content": m.content})
            continue
        parts: list[dict[str, Any]] = [
            {"type": "image_url", "image_url": {"url": f"data:{i.mime};base64,"
                                                       f"{base64.b64encode(i.data).decode()}"}}
            for i in m.images
        ]  # fmt: skip
        parts.append({"type": "text", "text": m.content})
        payload.append({"role": m.role, "content": parts})
    return payload


def stream_with_images(
    llm: llama_cpp.Llama,
    model: InstalledModel,
    request: GenerationRequest,
    n_ctx: int,
    cancel: Event,
    started: float,
    provider: str,
) -> Generator[str, None, GenerationResult]:
    """One answer to a conversation with images, through the projector beside `model`."""
    projector = projector_for(model.path)
    if projector is None:
        raise ModelError(
            f"{model.name} can't read images: no multimodal projector (an mmproj GGUF) sits "
            "beside it.",
            "Remove the images, or download the model's mmproj file into the same folder.",
        )
    from llama_cpp.llama_chat_format import MTMDChatHandler

    handler: Any = _handlers.get(id(llm))
    if handler is None:
        try:
            handler = MTMDChatHandler(clip_model_path=str(projector), verbose=False)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelError(f"llama.cpp couldn't load the projector {projector.name}: {exc}.",
                             "The file may be damaged or not match this model.") from exc
        _handlers.clear()
        _handlers[id(llm)] = handler
    s = request.sampling
    parts: list[str] = []
    ttft: float | None = None
    outcome = Outcome.DONE
    usage = Usage(0, 0, TokenSource.COUNTED)
    try:
        chunks: Any = handler(
            llama=llm, messages=_payload(request.messages), stream=True,
            max_tokens=min(s.max_tokens, n_ctx), temperature=s.temperature, top_p=s.top_p,
        )  # fmt: skip
        for chunk in chunks:
            delta = str(chunk["choices"][0].get("delta", {}).get("content") or "")
            if delta:
                ttft = ttft if ttft is not None else time.monotonic() - started
                parts.append(delta)
                yield delta
            if cancel.is_set():
                outcome = Outcome.STOPPED
                break
    except (ValueError, RuntimeError) as exc:
        raise ModelError(f"{model.name} couldn't read these images: {exc}.") from exc
    text = "".join(parts)
    completion = len(llm.tokenize(text.encode(), add_bos=False, special=False)) if text else 0
    usage = Usage(int(llm.n_tokens) - completion if llm.n_tokens else 0, completion,
                  TokenSource.COUNTED)  # fmt: skip
    return GenerationResult(
        text=text, outcome=outcome, usage=usage, backend="local", provider=provider,
        model=model.name, ttft_s=ttft, duration_s=time.monotonic() - started,
    )  # fmt: skip
