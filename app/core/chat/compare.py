"""Compare: one prompt to several targets, side by side.

Cloud targets run concurrently, one thread each; local targets share the one
local device, so they run one after another on a single thread (the others
show as "waiting"). A failure in one column never disturbs the others. Every
column becomes a ledger row tagged `compare`, billed like any other request.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from app.core.chat.prompt import prompt_messages
from app.core.exchange import Origin
from app.core.foundation.errors import NotFoundError, ParleyError
from app.core.llm.contract import (
    ChatMessage,
    GenerationRequest,
    GenerationResult,
    Outcome,
    Sampling,
    TokenSource,
    Usage,
    tokens_per_second,
)
from app.core.llm.targets import Target

if TYPE_CHECKING:
    from app.core.chat.conversations import ConversationStore
    from app.core.exchange import Exchanges, Settled
    from app.core.foundation.storage import Database

logger = logging.getLogger(__name__)

COMPARE_TAG = "compare"
MIN_TARGETS, MAX_TARGETS = 1, 6
WAITING, RUNNING = "waiting", "running"

DeltaFn = Callable[[int, str], None]
StatusFn = Callable[[int, str], None]


@dataclass(frozen=True, slots=True)
class Column:
    position: int
    target: Target
    text: str
    outcome: str  # waiting / running / done / stopped / error
    error: str | None = None
    model: str | None = None
    provider: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    token_source: str | None = None
    ttft_s: float | None = None
    duration_s: float | None = None
    usage_id: int | None = None
    cost: float | None = None
    currency: str | None = None
    cost_source: str | None = None
    energy_wh: float | None = None

    @property
    def answered(self) -> bool:
        return self.outcome == str(Outcome.DONE) and bool(self.text.strip())

    @property
    def tokens_per_second(self) -> float | None:
        return tokens_per_second(self.completion_tokens, self.duration_s, self.ttft_s)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["target"] = str(self.target)
        out["tokens_per_second"] = self.tokens_per_second
        return out


@dataclass(frozen=True, slots=True)
class Comparison:
    id: int
    created_at: float
    prompt: str
    system_prompt: str
    sampling: Sampling
    columns: tuple[Column, ...]

    def cheapest(self) -> int | None:
        """Position of the cheapest answered column (same currency only)."""
        priced = [c for c in self.columns if c.answered and c.cost is not None]
        if not priced or len({c.currency for c in priced}) > 1:
            return None
        return min(priced, key=lambda c: c.cost or 0.0).position

    def fastest(self) -> int | None:
        """Position of the answered column with the highest tokens/s."""
        timed = [c for c in self.columns if c.answered and c.tokens_per_second]
        return max(timed, key=lambda c: c.tokens_per_second or 0.0).position if timed else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": self.created_at,
            "prompt": self.prompt,
            "system_prompt": self.system_prompt,
            "cheapest": self.cheapest(),
            "fastest": self.fastest(),
            "results": [c.to_dict() for c in self.columns],
        }


class ComparisonStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self, prompt: str, targets: Sequence[Target], system_prompt: str, sampling: Sampling
    ) -> int:
        with self.db.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO comparisons (created_at, prompt, system_prompt, sampling_json) "
                "VALUES (?, ?, ?, ?)",
                (time.time(), prompt, system_prompt, json.dumps(asdict(sampling))),
            )
            cid = int(cur.lastrowid or 0)
            conn.executemany(
                "INSERT INTO comparison_columns (comparison_id, position, target) VALUES (?, ?, ?)",
                [(cid, i, str(t)) for i, t in enumerate(targets)],
            )
        return cid

    def save_column(self, comparison_id: int, column: Column) -> None:
        self.db.execute(
            "UPDATE comparison_columns SET text = ?, outcome = ?, error = ?, model = ?, "
            "provider = ?, prompt_tokens = ?, completion_tokens = ?, token_source = ?, "
            "ttft_s = ?, duration_s = ?, usage_id = ? WHERE comparison_id = ? AND position = ?",
            (column.text, column.outcome, column.error, column.model, column.provider,
             column.prompt_tokens, column.completion_tokens, column.token_source, column.ttft_s,
             column.duration_s, column.usage_id, comparison_id, column.position),
        )  # fmt: skip

    def get(self, comparison_id: int) -> Comparison:
        rows = self.db.query("SELECT * FROM comparisons WHERE id = ?", (comparison_id,))
        if not rows:
            raise NotFoundError(f"There is no comparison {comparison_id}.")
        row = rows[0]
        cols = self.db.query(
            "SELECT c.*, u.cost AS cost, u.currency AS currency, u.cost_source AS cost_source, "
            "u.energy_wh AS energy_wh "
            "FROM comparison_columns c LEFT JOIN usage u ON u.id = c.usage_id "
            "WHERE c.comparison_id = ? ORDER BY c.position",
            (comparison_id,),
        )
        sampling = Sampling(**json.loads(row["sampling_json"] or "{}"))
        return Comparison(
            row["id"], row["created_at"], row["prompt"], row["system_prompt"], sampling,
            tuple(_column(c) for c in cols),
        )  # fmt: skip

    def list(self, limit: int = 200) -> list[Comparison]:
        ids = self.db.query(
            "SELECT id FROM comparisons ORDER BY created_at DESC, id DESC LIMIT ?", (limit,)
        )
        return [self.get(r["id"]) for r in ids]


def _column(row: Any) -> Column:
    return Column(
        position=row["position"], target=Target.parse(row["target"]), text=row["text"],
        outcome=row["outcome"], error=row["error"], model=row["model"], provider=row["provider"],
        prompt_tokens=row["prompt_tokens"], completion_tokens=row["completion_tokens"],
        token_source=row["token_source"], ttft_s=row["ttft_s"], duration_s=row["duration_s"],
        usage_id=row["usage_id"], cost=row["cost"], currency=row["currency"],
        cost_source=row["cost_source"], energy_wh=row["energy_wh"],
    )  # fmt: skip


class CompareRunner:
    """Runs a comparison; callbacks arrive on the columns' threads."""

    def __init__(self, exchanges: Exchanges, store: ComparisonStore) -> None:
        self.exchanges = exchanges
        self.store = store

    def run(
        self,
        prompt: str,
        targets: Sequence[Target],
        *,
        system_prompt: str = "",
        sampling: Sampling | None = None,
        cancels: Sequence[threading.Event] | None = None,
        on_delta: DeltaFn | None = None,
        on_status: StatusFn | None = None,
    ) -> Comparison:
        if not prompt.strip():
            raise ParleyError("The prompt is empty.", "Type something to compare.")
        if not MIN_TARGETS <= len(targets) <= MAX_TARGETS:
            raise ParleyError(f"Compare takes {MIN_TARGETS} to {MAX_TARGETS} targets.")
        sampling = (sampling or Sampling()).validated()
        for target in targets:  # unknown names, missing keys fail before anything runs
            self.exchanges.check(target, Origin(tag=COMPARE_TAG))
        cancels = list(cancels or [threading.Event() for _ in targets])
        messages = prompt_messages(system_prompt, [ChatMessage("user", prompt)])
        request_for = {t: GenerationRequest(messages, sampling, t.model) for t in targets}
        comparison_id = self.store.create(prompt, targets, system_prompt, sampling)
        status = on_status or (lambda _i, _s: None)
        delta = on_delta or (lambda _i, _t: None)

        def column(i: int) -> None:
            status(i, RUNNING)
            col = self._run_column(i, targets[i], request_for[targets[i]], cancels[i], delta)
            self.store.save_column(comparison_id, col)
            status(i, col.outcome)

        on_device = {t.backend for t in targets if self.exchanges.backend(t.backend).is_local}
        local = [i for i, t in enumerate(targets) if t.backend in on_device]
        cloud = [i for i, t in enumerate(targets) if t.backend not in on_device]
        for i in local:
            status(i, WAITING)

        def local_queue() -> None:
            for i in local:
                column(i)

        threads = [threading.Thread(target=column, args=(i,), name=f"compare-{i}") for i in cloud]
        if local:
            threads.append(threading.Thread(target=local_queue, name="compare-local"))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return self.store.get(comparison_id)

    def _run_column(
        self, i: int, target: Target, request: GenerationRequest, cancel: threading.Event,
        on_delta: DeltaFn,
    ) -> Column:  # fmt: skip
        settled = self._settled(i, target, request, cancel, on_delta)
        result = settled.result
        return Column(
            position=i, target=target, text=result.text, outcome=str(result.outcome),
            error=result.error, model=result.model, provider=result.provider,
            prompt_tokens=result.usage.prompt_tokens,
            completion_tokens=result.usage.completion_tokens,
            token_source=str(result.usage.source), ttft_s=result.ttft_s,
            duration_s=result.duration_s, usage_id=settled.usage_id,
        )  # fmt: skip

    def _settled(
        self, i: int, target: Target, request: GenerationRequest, cancel: threading.Event,
        on_delta: DeltaFn,
    ) -> Settled:  # fmt: skip
        """One column's request through the one exchange; a failure (a hard budget refuses
        it, nothing sent) stays in its column and never disturbs the others."""
        origin = Origin(tag=COMPARE_TAG)
        try:
            exchange = self.exchanges.open(target, request, origin, cancel)
        except ParleyError as exc:
            return self.exchanges.refused(target, request, origin, exc)
        except Exception:  # one column's failure must not disturb the others
            logger.exception("compare column %s failed", target)
            return self.exchanges.refused(target, request, origin,
                                          ParleyError("Something went wrong."))  # fmt: skip
        for piece in exchange.deltas():
            on_delta(i, piece)
        assert exchange.settled is not None
        return exchange.settled


def continue_as_conversation(
    comparison: Comparison, position: int, conversations: ConversationStore
) -> int:
    """Turn one column into a normal conversation: the prompt and that answer."""
    column = comparison.columns[position]
    conv = conversations.create(
        system_prompt=comparison.system_prompt, sampling=comparison.sampling,
        target=str(column.target),
    )  # fmt: skip
    conversations.add_user_message(conv.id, comparison.prompt)
    msg = conversations.start_assistant_message(
        conv.id, column.target.backend, column.provider or "", column.model or ""
    )
    conversations.finish_assistant_message(
        msg.id,
        GenerationResult(
            column.text, Outcome(column.outcome) if column.outcome in Outcome else Outcome.DONE,
            Usage(column.prompt_tokens or 0, column.completion_tokens or 0,
                  TokenSource(column.token_source or TokenSource.COUNTED)),
            column.target.backend, column.provider or "", column.model or column.target.model,
            column.ttft_s, column.duration_s or 0.0, error=column.error,
        ),
    )  # fmt: skip
    return conv.id
