"""Token counts for cloud requests: Mistral's own tokenizer where it applies, else an estimate.

Mistral's models since Nemo (2407) use the Tekken tokenizer, which Mistral
publishes in the `mistral-common` package (`mistral_common/data/tekken_240911.json`).
It is an optional dependency, imported on first use (about a second, then
~2 s to read the vocabulary): always on a worker thread, never at start-up.
Without it, or for any other model, the counts are estimates and say so.

The prompt is counted the way Mistral's v7 instruct format spends tokens
(`mistral_common`'s `InstructTokenizerV7`): `<s>`, then each system or user
message wrapped in two control tokens (`[SYSTEM_PROMPT]…[/SYSTEM_PROMPT]`,
`[INST]…[/INST]`) and each assistant message followed by `</s>`.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import TYPE_CHECKING, Any

from app.core.llm.contract import TokenSource, Usage
from app.core.llm.token_estimate import estimate_prompt_tokens, estimate_tokens

if TYPE_CHECKING:
    from collections.abc import Sequence

    from app.core.llm.contract import ChatMessage

logger = logging.getLogger(__name__)

_MISTRAL_FAMILY = re.compile(r"(mistral|magistral|devstral|ministral|codestral|pixtral)", re.I)
# Older Mistral models use SentencePiece vocabularies, not Tekken: estimate those.
_PRE_TEKKEN = re.compile(r"(7b|8x7b|8x22b|mixtral|mamba|tiny|v0\.[123]|-2312|-2402|-2405)", re.I)
TEKKEN_FILE = "tekken_240911.json"

_lock = threading.Lock()
_tokenizer: Any = None
_tried = False


def uses_tekken(model: str) -> bool:
    """Whether `model` (any provider's id for it) is a Mistral model with the Tekken vocabulary."""
    name = model.rsplit("/", 1)[-1].split(":", 1)[0]
    return bool(_MISTRAL_FAMILY.search(name)) and not _PRE_TEKKEN.search(name)


def _tekken(load: bool = True) -> Any:
    """The Tekken tokenizer, or None when mistral-common is not installed or fails to load
    (or, with `load=False`, when it is not loaded yet)."""
    global _tokenizer, _tried
    with _lock:
        if not _tried and load:
            _tried = True
            try:
                from importlib import resources

                from mistral_common.tokens.tokenizers.tekken import Tekkenizer

                path = resources.files("mistral_common") / "data" / TEKKEN_FILE
                with resources.as_file(path) as file:
                    _tokenizer = Tekkenizer.from_file(file)
            except Exception as exc:  # noqa: BLE001 - optional: fall back to estimates
                logger.info("Mistral tokenizer unavailable (%r): estimating", exc)
                _tokenizer = None
        return _tokenizer


def _encode_len(tokenizer: Any, text: str) -> int:
    return len(tokenizer.encode(text, bos=False, eos=False))


def count_text(text: str, model: str, *, load: bool = True) -> tuple[int, TokenSource]:
    """Tokens of an answer's text, and whether they were counted or estimated.

    `load=False` counts only with a tokenizer already in memory (start-up paths that
    must not spend seconds loading one), and estimates otherwise."""
    if not text:
        return 0, TokenSource.COUNTED
    tokenizer = _tekken(load) if uses_tekken(model) else None
    if tokenizer is None:
        return estimate_tokens(text), TokenSource.ESTIMATED
    return _encode_len(tokenizer, text), TokenSource.COUNTED


def count_prompt(
    messages: Sequence[ChatMessage], model: str, *, load: bool = True
) -> tuple[int, TokenSource]:
    """Tokens of a chat prompt as the provider reads it, and how they were obtained."""
    tokenizer = _tekken(load) if uses_tekken(model) else None
    if tokenizer is None:
        return estimate_prompt_tokens(messages), TokenSource.ESTIMATED
    total = 1  # <s>
    for m in messages:
        total += _encode_len(tokenizer, m.content) + (1 if m.role == "assistant" else 2)
    return total, TokenSource.COUNTED


def worse(a: TokenSource, b: TokenSource) -> TokenSource:
    """The less exact of two sources (a row mixing counted and estimated is estimated)."""
    order = (TokenSource.REPORTED, TokenSource.COUNTED, TokenSource.ESTIMATED)
    return max(a, b, key=order.index)


def spent_usage(
    prompt: Sequence[ChatMessage], text: str, model: str, *, read: bool, load: bool = True
) -> Usage:
    """Tokens a stopped, failed or interrupted answer used: the prompt it sent (when the
    model read it) and the text it wrote, counted as exactly as Parley can."""
    completion, completion_source = count_text(text, model, load=load)
    if not read:
        return Usage(0, completion, completion_source)
    prompt_tokens, prompt_source = count_prompt(prompt, model, load=load)
    return Usage(prompt_tokens, completion, worse(prompt_source, completion_source))
