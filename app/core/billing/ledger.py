"""The usage ledger: one row per finished, stopped, failed or interrupted request.

Each row carries its cost, computed when the request ends from the price (or
the electricity, or the server's hourly rate) of that moment, and the price it
used with its source and date, so a later price change never rewrites it.

Budgets hold under concurrency: `reserve()` checks every budget that applies and
records the most the request can cost in one SQLite `BEGIN IMMEDIATE`
transaction, which every thread and every process sharing the data folder (the
window, the CLI, `parley serve`) takes in turn; `settle()` turns the reservation
into the usage row in one transaction, `release()` drops it. Reservations of a
process that died are reaped by the next `reserve()`.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.core.billing.budgets import BudgetBook
from app.core.billing.columns import COLUMN_NAMES, SELECT_LIST, UsageRow
from app.core.billing.costs import (
    LOCAL_BACKEND,
    Costing,
    CostSource,
    cloud_costing,
    hourly_costing,
    load_local_settings,
    local_costing,
)
from app.core.billing.currency import load_rates
from app.core.billing.energy import EnergyMonitor, EnergyReading
from app.core.billing.hourly import load_hourly, share_seconds
from app.core.billing.prices import PriceBook
from app.core.billing.resolve import PriceQuery, PriceResolver
from app.core.foundation.processes import this_process, writer_alive
from app.core.foundation.settings import Settings
from app.core.llm.contract import tokens_per_second

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable

    from app.core.billing.price import Price
    from app.core.foundation.storage import Database
    from app.core.llm.contract import GenerationResult

logger = logging.getLogger(__name__)


# Every usage column but `id`, as named parameters: `_insert` must give each a value.
_INSERT = (
    f"INSERT INTO usage ({', '.join(n for n in COLUMN_NAMES if n != 'id')}) VALUES "
    f"({', '.join(':' + n for n in COLUMN_NAMES if n != 'id')})"
)


@dataclass(frozen=True, slots=True)
class Quote:
    """What the next request will cost at most: its prompt, and max_tokens of answer.

    `amount` is None when nothing prices it ahead of time (no price; an hourly
    server, whose cost depends on how long it runs); `basis` says which.
    """

    amount: float | None
    currency: str | None
    prompt_tokens: int
    token_source: str  # how the prompt was counted: "counted" | "estimated"
    max_tokens: int
    basis: str  # a CostSource value
    price: Price | None = None


@dataclass(frozen=True, slots=True)
class Reservation:
    """A running request's hold on the budgets, from `Ledger.reserve` to `settle`/`release`.

    `amount` (in `currency`) is the most it can cost; None when nothing prices it in
    advance (local, hourly, or no price where no hard budget applies)."""

    id: int
    started_at: float  # seconds since the epoch
    backend: str
    provider: str
    project: str | None
    amount: float | None
    currency: str | None
    warnings: tuple[str, ...] = ()
    energy: EnergyReading | None = None  # local requests: the meters at the start


def local_day(ts: float) -> int:
    """The local calendar day of `ts` (DST included), as days since 1970-01-01."""
    return (dt.date.fromtimestamp(ts) - EPOCH).days


EPOCH = dt.date(1970, 1, 1)


def _stderr_warning(message: str) -> None:
    # The CLI's default; the window replaces it with a banner in the chat.
    sys.stderr.write(f"parley: {message}\n")


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
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.settings = Settings(db)
        self.prices = prices or PriceBook(db)
        self.resolver = PriceResolver(self.prices)
        self.budgets = BudgetBook(db)
        self.monitor = monitor or EnergyMonitor()
        self.clock = clock  # seconds since the epoch: reservations and hourly shares
        self.on_budget_warning: Callable[[str], None] = _stderr_warning
        self._override_lock = threading.Lock()
        self._override_once = False

    def override_budget_once(self) -> None:
        """The user's one-click override: the next request is not refused by a hard budget."""
        with self._override_lock:
            self._override_once = True

    def price_for(
        self, backend: str, provider: str, requested: str, answered: str | None = None,
        when: float | None = None,
    ) -> Price | None:  # fmt: skip
        """The one price resolution (see `resolve.py`) for a cloud request."""
        return self.resolver.resolve(PriceQuery(backend, provider, requested, answered), when)

    def quote(
        self, *, backend: str, provider: str, model: str, prompt_tokens: int,
        token_source: str, max_tokens: int,
    ) -> Quote:  # fmt: skip
        """The most the next request can cost: what the window shows and hard budgets check."""
        if backend == LOCAL_BACKEND:
            conf = load_local_settings(self.settings)
            return Quote(0.0, conf.currency, prompt_tokens, token_source, max_tokens,
                         str(CostSource.ENERGY_ESTIMATED))  # fmt: skip
        if backend in load_hourly(self.settings):
            rate = load_hourly(self.settings)[backend]
            return Quote(None, rate.currency, prompt_tokens, token_source, max_tokens,
                         str(CostSource.HOURLY))  # fmt: skip
        price = self.price_for(backend, provider, model)
        if price is None:
            return Quote(None, None, prompt_tokens, token_source, max_tokens,
                         str(CostSource.NO_PRICE))  # fmt: skip
        return Quote(price.cost(prompt_tokens, max_tokens), price.currency, prompt_tokens,
                     token_source, max_tokens, str(CostSource.PRICED), price)  # fmt: skip

    def reserve(
        self,
        *,
        backend: str,
        provider: str,
        model: str,
        project: str | None,
        prompt_tokens: int,
        token_source: str,
        max_tokens: int,
        is_local: bool = False,
    ) -> Reservation:
        """Before a request is sent: check every budget that applies and hold the most it
        can cost, atomically across threads and processes.

        `model` is the id as it will be sent; the figure held is `quote()`'s, the one the
        window shows under the message box. Raises `BudgetExceededError` when a hard
        budget refuses the request (nothing is held then). Budget warnings go to
        `on_budget_warning` and come back in `Reservation.warnings`. Every reservation
        must end in `settle()` or `release()`.
        """
        quote = self.quote(backend=backend, provider=provider, model=model,
                           prompt_tokens=prompt_tokens, token_source=token_source,
                           max_tokens=max_tokens)  # fmt: skip
        is_cloud = not is_local and backend != LOCAL_BACKEND
        with self._override_lock:
            override, self._override_once = self._override_once, False
        pid, pid_started = this_process()
        now = self.clock()
        with self.db.transaction() as conn:
            self._reap_dead(conn)
            warnings = self.budgets.check(
                backend=backend, provider=provider, project=project,
                is_cloud=is_cloud and not override, worst_case=quote.amount,
                currency=quote.currency, basis=quote.basis, model=model, now=now,
            )  # fmt: skip
            held = quote.amount if is_cloud else None
            cur = conn.execute(
                "INSERT INTO reservations (started_at, pid, pid_started, backend, provider, "
                "project, amount, currency) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (now, pid, pid_started, backend, provider, project, held, quote.currency),
            )
        for message in warnings:
            self.on_budget_warning(message)
        energy = None if is_cloud else self.monitor.start()
        return Reservation(int(cur.lastrowid or 0), now, backend, provider, project, held,
                           quote.currency, tuple(warnings), energy)  # fmt: skip

    def release(self, reservation: Reservation) -> None:
        """Drop a reservation whose request never ran (refused later, or nothing was sent)."""
        self.db.execute("DELETE FROM reservations WHERE id = ?", (reservation.id,))

    def settle(
        self,
        reservation: Reservation,
        result: GenerationResult,
        *,
        conversation_id: int | None,
        message_id: int | None,
        project: str | None = None,
        tag: str | None = None,
        client: str | None = None,
    ) -> int:
        """The request ended: write its usage row at its real cost and drop its reservation,
        in one transaction. Returns the row's id."""
        end = self.clock()
        costing = self._costing_guarded(result, reservation.energy, (reservation.started_at, end),
                                        reservation.id)  # fmt: skip
        with self.db.transaction() as conn:
            row_id = self._insert(conn, result, costing, end, conversation_id=conversation_id,
                                  message_id=message_id, project=project, tag=tag,
                                  client=client)  # fmt: skip
            conn.execute("DELETE FROM reservations WHERE id = ?", (reservation.id,))
        return row_id

    @staticmethod
    def _reap_dead(conn: sqlite3.Connection) -> None:
        """Reservations of processes that died before settling (a crash, `kill -9`), a
        process that had this one's pid before it included."""
        mine = this_process()
        for pid, started in conn.execute(
            "SELECT DISTINCT pid, pid_started FROM reservations"
        ).fetchall():
            if (pid, started) != mine and not (pid != mine[0] and writer_alive(pid, started)):
                conn.execute("DELETE FROM reservations WHERE pid = ? AND pid_started IS ?",
                             (pid, started))  # fmt: skip

    def costing(
        self,
        result: GenerationResult,
        energy: EnergyReading | None = None,
        interval: tuple[float, float] | None = None,
        reservation_id: int | None = None,
    ) -> Costing:
        """What `result` cost. `energy` is the meters' reading at the start (local);
        `interval` the request's (start, end) in seconds since the epoch, which an hourly
        server's share is computed over (by default: its duration, ending now)."""
        usage = result.usage
        if result.backend != LOCAL_BACKEND:
            rate = load_hourly(self.settings).get(result.backend)
            if rate is not None:
                if interval is None:
                    end = self.clock()
                    interval = (end - result.duration_s, end)
                return hourly_costing(rate, self._hourly_share(result.backend, interval,
                                                               reservation_id))  # fmt: skip
            price = self.price_for(result.backend, result.provider,
                                   result.requested_model or result.model, result.model)
            return cloud_costing(price, usage.prompt_tokens, usage.completion_tokens,
                                 result.reported_cost)  # fmt: skip
        measured = self.monitor.measured_wh(energy) if energy is not None else None
        conf = load_local_settings(self.settings)
        compare = self.prices.lookup(conf.compare_provider, conf.compare_model)
        return local_costing(
            conf, result.duration_s, measured, compare, usage.prompt_tokens,
            usage.completion_tokens, load_rates(self.settings),
        )  # fmt: skip

    def _hourly_share(
        self, backend: str, interval: tuple[float, float], reservation_id: int | None
    ) -> float:
        """Seconds of `backend`'s time this request is billed: the other requests that ran
        beside it come from the ledger (finished) and the reservations (still running)."""
        start, end = interval
        finished = self.db.query(
            "SELECT created_at - duration_s, created_at FROM usage WHERE backend = ? "
            "AND cost_source = 'hourly' AND created_at > ? AND created_at - duration_s < ?",
            (backend, start, end),
        )
        running = self.db.query(
            "SELECT started_at FROM reservations WHERE backend = ? AND id IS NOT ? "
            "AND started_at < ?",
            (backend, reservation_id, end),
        )
        others = [(float(r[0]), float(r[1])) for r in finished]
        others += [(float(r[0]), end) for r in running]
        return share_seconds(start, end, others)

    def _costing_guarded(
        self, result: GenerationResult, energy: EnergyReading | None,
        interval: tuple[float, float] | None, reservation_id: int | None,
    ) -> Costing:  # fmt: skip
        try:
            return self.costing(result, energy, interval, reservation_id)
        except Exception:  # billing must never lose the row: record it unpriced
            logger.exception("costing failed for %s/%s", result.provider, result.model)
            return cloud_costing(None, 0, 0)

    def record(
        self,
        result: GenerationResult,
        *,
        conversation_id: int | None,
        message_id: int | None,
        project: str | None = None,
        tag: str | None = None,
        created_at: float | None = None,
        client: str | None = None,
    ) -> int:
        """Write a row for a request that held no reservation (one recovered after a crash,
        an import); returns its id."""
        when = self.clock() if created_at is None else created_at
        costing = self._costing_guarded(result, None, (when - result.duration_s, when), None)
        with self.db.transaction() as conn:
            return self._insert(conn, result, costing, when, conversation_id=conversation_id,
                                message_id=message_id, project=project, tag=tag,
                                client=client)  # fmt: skip

    @staticmethod
    def _insert(
        conn: sqlite3.Connection, result: GenerationResult, c: Costing, when: float, *,
        conversation_id: int | None, message_id: int | None, project: str | None,
        tag: str | None, client: str | None,
    ) -> int:  # fmt: skip
        requested = result.requested_model
        cur = conn.execute(_INSERT, {
            "created_at": when,
            "conversation_id": conversation_id,
            "message_id": message_id,
            "project": project,
            "tag": tag,
            "backend": result.backend,
            "provider": result.provider,
            "model": result.model,
            "prompt_tokens": result.usage.prompt_tokens,
            "completion_tokens": result.usage.completion_tokens,
            "token_source": str(result.usage.source),
            "ttft_s": result.ttft_s,
            "duration_s": result.duration_s,
            "outcome": str(result.outcome),
            "request_id": result.request_id,
            "cost": c.cost,
            "currency": c.currency,
            "cost_source": str(c.source),
            "price_input": c.price_input,
            "price_output": c.price_output,
            "energy_wh": c.energy_wh,
            "compare_cost": c.compare_cost,
            "requested_model": requested if requested and requested != result.model else None,
            "price_source": c.price_source,
            "price_date": c.price_date,
            "local_day": local_day(when),
            "client": client,
            "route": result.route,
        })  # fmt: skip
        return int(cur.lastrowid or 0)

    def rows(
        self, limit: int = 1000, offset: int = 0, project: str | None = None
    ) -> list[UsageRow]:
        """Newest first; only `project`'s (exact name) when given."""
        where, params = ("WHERE project = ? ", [project]) if project is not None else ("", [])
        rows = self.db.query(
            f"SELECT {SELECT_LIST} FROM usage {where}ORDER BY created_at DESC, id DESC "
            "LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [UsageRow(*r) for r in rows]

    def get(self, usage_id: int) -> UsageRow | None:
        rows = self.db.query(f"SELECT {SELECT_LIST} FROM usage WHERE id = ?", (usage_id,))
        return UsageRow(*rows[0]) if rows else None

    def recent_speed(
        self, backend: str, model: str | None = None, latest: int = 20
    ) -> float | None:
        """Median tokens/s of the latest finished answers from `backend` (and `model`), or None.

        Cloud answers come back under dated or routed ids, so pass no model for them.
        """
        where, params = ("backend = ? AND model = ?", (backend, model)) if model else (
            "backend = ?", (backend,))  # fmt: skip
        rows = self.db.query(
            f"SELECT completion_tokens, duration_s, ttft_s FROM usage "
            f"WHERE {where} AND outcome = 'done' ORDER BY created_at DESC LIMIT ?",
            (*params, latest),
        )
        speeds = sorted(
            s for r in rows
            if (s := tokens_per_second(r["completion_tokens"], r["duration_s"], r["ttft_s"]))
        )  # fmt: skip
        return speeds[len(speeds) // 2] if speeds else None

    def count(self) -> int:
        return int(self.db.scalar("SELECT COUNT(*) FROM usage"))
