"""The usage ledger: one row per finished, stopped, failed or interrupted request.

Each row carries its cost, computed when the request ends from the price (or
the electricity) of that moment, and the price it used.
"""

from __future__ import annotations

import logging
import math
import sys
import threading
import time
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from app.core.billing.budgets import BudgetBook
from app.core.billing.costs import (
    LOCAL_BACKEND,
    Costing,
    cloud_costing,
    load_local_settings,
    local_costing,
)
from app.core.billing.energy import EnergyMonitor, EnergyReading
from app.core.billing.prices import Price, PriceBook
from app.core.foundation.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from app.core.chat.backend import ChatMessage, GenerationResult
    from app.core.foundation.storage import Database

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class UsageRow:
    id: int
    created_at: float
    conversation_id: int | None
    message_id: int | None
    backend: str
    provider: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    token_source: str
    ttft_s: float | None
    duration_s: float
    outcome: str
    request_id: str | None
    project: str | None
    tag: str | None
    cost: float | None = None
    currency: str | None = None
    cost_source: str = "no price"
    price_input: float | None = None
    price_output: float | None = None
    energy_wh: float | None = None
    compare_cost: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


_ROW_FIELDS = tuple(f.name for f in fields(UsageRow))


def _stderr_warning(message: str) -> None:
    # The CLI's default; the window replaces it with a banner in the chat.
    sys.stderr.write(f"parley: {message}\n")


def estimate_prompt_tokens(messages: Sequence[ChatMessage]) -> int:
    """A deliberately high estimate (3 characters per token) for worst-case budget checks."""
    return sum(math.ceil(len(m.content) / 3) + 4 for m in messages)


class Ledger:
    """Writes usage rows with their cost; guards budgets before a request is sent.

    `on_budget_warning(message)` is called for each budget warning; front ends
    replace it (the CLI default writes to stderr).
    """

    def __init__(
        self,
        db: Database,
        *,
        monitor: EnergyMonitor | None = None,
        prices: PriceBook | None = None,
    ) -> None:
        self.db = db
        self.settings = Settings(db)
        self.prices = prices or PriceBook(db)
        self.budgets = BudgetBook(db)
        self.monitor = monitor or EnergyMonitor()
        self.on_budget_warning: Callable[[str], None] = _stderr_warning
        self._energy_lock = threading.Lock()
        self._energy_start: dict[int | None, EnergyReading] = {}
        self._override_once = False

    def override_budget_once(self) -> None:
        """The user's one-click override: the next request is not refused by a hard budget."""
        with self._energy_lock:
            self._override_once = True

    def preflight(
        self,
        *,
        conversation_id: int | None,
        backend: str,
        provider: str,
        model: str,
        project: str | None,
        messages: Sequence[ChatMessage],
        max_tokens: int,
        now: float | None = None,
    ) -> list[str]:
        """Before a request is sent: check budgets (may raise) and start the energy meters."""
        is_cloud = backend != LOCAL_BACKEND
        worst: float | None = None
        currency: str | None = None
        if is_cloud:
            price = self._price(backend, provider, model)
            if price is not None:
                worst = price.cost(estimate_prompt_tokens(messages), max_tokens)
                currency = price.currency
        else:
            worst, currency = 0.0, load_local_settings(self.settings).currency
        with self._energy_lock:
            override, self._override_once = self._override_once, False
        warnings = self.budgets.check(
            provider=provider, project=project, is_cloud=is_cloud and not override,
            worst_case=worst, currency=currency, now=time.time() if now is None else now,
        )  # fmt: skip
        for message in warnings:
            self.on_budget_warning(message)
        if not is_cloud:
            reading = self.monitor.start()
            with self._energy_lock:
                self._energy_start[conversation_id] = reading
        return warnings

    def costing(self, result: GenerationResult, conversation_id: int | None = None) -> Costing:
        usage = result.usage
        if result.backend != LOCAL_BACKEND:
            price = self._price(result.backend, result.provider, result.model)
            return cloud_costing(price, usage.prompt_tokens, usage.completion_tokens)
        with self._energy_lock:
            start = self._energy_start.pop(conversation_id, None)
        measured = self.monitor.measured_wh(start) if start is not None else None
        conf = load_local_settings(self.settings)
        compare = self.prices.lookup(conf.compare_provider, conf.compare_model)
        return local_costing(
            conf, result.duration_s, measured, compare, usage.prompt_tokens,
            usage.completion_tokens,
        )  # fmt: skip

    def _price(self, backend: str, provider: str, model: str) -> Price | None:
        # A provider's configured name (the backend) may be what the user priced it under.
        return self.prices.lookup(provider, model) or (
            self.prices.lookup(backend, model) if backend != provider else None
        )

    def record(
        self,
        result: GenerationResult,
        *,
        conversation_id: int | None,
        message_id: int | None,
        project: str | None = None,
        tag: str | None = None,
        created_at: float | None = None,
    ) -> int:
        try:
            c = self.costing(result, conversation_id)
        except Exception:  # billing must never lose the row: record it unpriced
            logger.exception("costing failed for %s/%s", result.provider, result.model)
            c = cloud_costing(None, 0, 0)
        cur = self.db.execute(
            "INSERT INTO usage (created_at, conversation_id, message_id, backend, provider, "
            "model, prompt_tokens, completion_tokens, token_source, ttft_s, duration_s, outcome, "
            "request_id, project, tag, cost, currency, cost_source, price_input, price_output, "
            "energy_wh, compare_cost) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                time.time() if created_at is None else created_at,
                conversation_id,
                message_id,
                result.backend,
                result.provider,
                result.model,
                result.usage.prompt_tokens,
                result.usage.completion_tokens,
                str(result.usage.source),
                result.ttft_s,
                result.duration_s,
                str(result.outcome),
                result.request_id,
                project,
                tag,
                c.cost,
                c.currency,
                str(c.source),
                c.price_input,
                c.price_output,
                c.energy_wh,
                c.compare_cost,
            ),
        )
        return int(cur.lastrowid or 0)

    def rows(self, limit: int = 1000, offset: int = 0) -> list[UsageRow]:
        """Newest first."""
        rows = self.db.query(
            "SELECT * FROM usage ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return [UsageRow(**{k: r[k] for k in _ROW_FIELDS}) for r in rows]

    def get(self, usage_id: int) -> UsageRow | None:
        rows = self.db.query("SELECT * FROM usage WHERE id = ?", (usage_id,))
        return UsageRow(**{k: rows[0][k] for k in _ROW_FIELDS}) if rows else None

    def count(self) -> int:
        return int(self.db.scalar("SELECT COUNT(*) FROM usage"))
