"""What a request will cost at most before it is sent, and what a failed one spent.

- `quote`: the figure under the message box and the one reservations hold: the
  prompt plus max tokens at the request's price. Counting the prompt can load a
  tokenizer (seconds, once): call it off the GUI thread.
- `spent_result`: what a request that failed or was stopped used, for the ledger:
  the prompt it sent (when the model read it) and the text it wrote, counted as
  exactly as Parley can, never the number of chunks.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from app.core.llm.contract import GenerationResult, Outcome, TokenSource
from app.core.llm.token_count import count_prompt, spent_usage
from app.core.llm.token_estimate import estimate_prompt_tokens

if TYPE_CHECKING:
    from collections.abc import Sequence

    from app.core.billing.ledger import Ledger, Quote
    from app.core.llm.contract import Backend, ChatMessage
    from app.core.llm.targets import Target


def prompt_count(
    backend: Backend, target: Target, messages: Sequence[ChatMessage]
) -> tuple[int, TokenSource]:
    """The prompt's tokens and how they were obtained: a cloud prompt is counted with the
    model's tokenizer where one exists (may load it), a local one estimated."""
    if backend.is_local:  # priced by energy after the fact
        return estimate_prompt_tokens(messages), TokenSource.ESTIMATED
    return count_prompt(messages, target.model)


def quote(
    ledger: Ledger, backend: Backend, target: Target, messages: Sequence[ChatMessage],
    max_tokens: int,
) -> Quote:  # fmt: skip
    """The most this request can cost: the prompt plus `max_tokens` at its price."""
    prompt, source = prompt_count(backend, target, messages)
    return ledger.quote(
        backend=backend.name, provider=backend.provider,
        model=backend.billing_model(target.model), prompt_tokens=prompt,
        token_source=str(source), max_tokens=max_tokens,
    )  # fmt: skip


def spent_result(
    backend: Backend, target: Target, messages: Sequence[ChatMessage], parts: Sequence[str],
    started: float, error: str | None,
) -> GenerationResult:  # fmt: skip
    """A failed (`error`) or stopped request's result. An error before any text means the
    request was refused or never arrived: its prompt was not read."""
    text = "".join(parts)
    return GenerationResult(
        text=text,
        outcome=Outcome.ERROR if error else Outcome.STOPPED,
        usage=spent_usage(messages, text, target.model, read=bool(parts) or error is None),
        backend=backend.name,
        provider=backend.provider,
        model=target.model,
        ttft_s=None,
        duration_s=time.monotonic() - started,
        error=error,
        requested_model=backend.billing_model(target.model),
    )
