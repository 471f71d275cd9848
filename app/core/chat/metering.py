"""Before and after one request, the same wherever it comes from: a chat turn, a Compare
column, a gateway request, each target `auto` tries.

- `check_budgets`: warn, or refuse a cloud request (raises `BudgetExceededError`)
  before anything is sent, on the figure the window shows under the message box
  (`quote`). Counting the prompt can load a tokenizer (seconds, once), so it is
  counted only when a budget needs the figure.
- `spent_result`: what a request that failed or was stopped used, for the ledger:
  the prompt it sent (when the model read it) and the text it wrote, counted as
  exactly as Parley can, never the number of chunks.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from app.core.chat.backend import GenerationResult, Outcome, TokenSource, sent_model
from app.core.chat.targets import LOCAL
from app.core.chat.token_count import count_prompt, spent_usage
from app.core.chat.token_estimate import estimate_prompt_tokens

if TYPE_CHECKING:
    from collections.abc import Sequence

    from app.core.billing.ledger import Ledger, Quote
    from app.core.chat.backend import Backend, ChatMessage
    from app.core.chat.targets import Target


def provider_of(backend: Backend) -> str:
    """Who is paid for what `backend` answers (the ledger's `provider` column)."""
    return str(getattr(backend, "provider", backend.name))


def quote(
    ledger: Ledger, backend: Backend, target: Target, messages: Sequence[ChatMessage],
    max_tokens: int,
) -> Quote:  # fmt: skip
    """The most this request can cost; may load a tokenizer (call it off the GUI thread)."""
    if backend.name == LOCAL:  # priced by energy after the fact: nothing to count
        prompt, source = estimate_prompt_tokens(messages), TokenSource.ESTIMATED
    else:
        prompt, source = count_prompt(messages, target.model)
    return ledger.quote(
        backend=backend.name, provider=provider_of(backend),
        model=sent_model(backend, target.model), prompt_tokens=prompt,
        token_source=str(source), max_tokens=max_tokens,
    )  # fmt: skip


def check_budgets(
    ledger: Ledger, backend: Backend, target: Target, messages: Sequence[ChatMessage],
    max_tokens: int, *, project: str | None, conversation_id: int | None,
) -> list[str]:  # fmt: skip
    """Budget warnings for this request; raises `BudgetExceededError` when a hard budget
    refuses it. Also starts the energy (local) or hourly-share meters the ledger reads."""
    prompt, source = 0, str(TokenSource.ESTIMATED)
    if ledger.budgets.all():
        q = quote(ledger, backend, target, messages, max_tokens)
        prompt, source = q.prompt_tokens, q.token_source
    return ledger.preflight(
        conversation_id=conversation_id, backend=backend.name, provider=provider_of(backend),
        model=sent_model(backend, target.model), project=project, prompt_tokens=prompt,
        token_source=source, max_tokens=max_tokens,
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
        provider=provider_of(backend),
        model=target.model,
        ttft_s=None,
        duration_s=time.monotonic() - started,
        error=error,
        requested_model=sent_model(backend, target.model),
    )
