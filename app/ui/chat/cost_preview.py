"""Cost before sending: what the next request can cost at most, under the message box.

The prompt is counted and priced on the "io" lane once typing pauses
(counting may load Mistral's tokenizer, seconds the first time); the figure
is the one the hard-budget check uses when the message is sent
(`ChatService.quote`). Stale results are dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer

from app.core.billing.costs import CostSource
from app.ui.billing.format import money
from app.workers import FunctionJob

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable

    from app.core.billing.ledger import Quote
    from app.core.chat.targets import Target
    from app.core.context import AppContext
    from app.ui.chat.composer import Composer
    from app.workers import WorkerPool
    from app.workers.jobs import ProgressFn

DELAY_MS = 400


def quote_text(quote: Quote, target: Target) -> str:
    """One line a user reads before sending."""
    tokens = (f"{quote.prompt_tokens:,} prompt tokens ({quote.token_source}) + up to "
              f"{quote.max_tokens:,} answer tokens")  # fmt: skip
    match quote.basis:
        case CostSource.ENERGY_ESTIMATED:
            return "Local model: costs only this machine's electricity."
        case CostSource.HOURLY:
            return f"{target.backend} is billed by the hour: its cost depends on how long it runs."
        case CostSource.NO_PRICE:
            return (f"No price known for {target.model}: set one under Billing → Prices "
                    "to see what it costs before sending.")  # fmt: skip
    return f"Up to {money(quote.amount, quote.currency)} on {target.model} · {tokens}"


class CostPreview(QObject):
    """Keeps the composer's cost line up to date for the current conversation and target."""

    def __init__(
        self,
        ctx: AppContext,
        pool: WorkerPool,
        composer: Composer,
        current: Callable[[], tuple[int | None, Target | None]],
    ) -> None:
        super().__init__(composer)
        self.ctx = ctx
        self.pool = pool
        self.composer = composer
        self.current = current
        self._job_id = 0
        self.last_quote: Quote | None = None
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DELAY_MS)
        self.timer.timeout.connect(self.update_now)
        composer.editor.textChanged.connect(self.schedule)

    def schedule(self) -> None:
        if self.composer.text().strip() or self.composer.cost_label.isVisible():
            self.timer.start()

    def stop(self) -> None:
        self.timer.stop()
        self._job_id = 0

    def update_now(self) -> None:
        text = self.composer.text()
        if not text.strip():
            self._job_id = 0
            self.composer.show_cost("")
            return
        conversation_id, target = self.current()
        if target is None:
            self.composer.show_cost("")
            return
        chat = self.ctx.chat

        def work(_cancel: threading.Event, _progress: ProgressFn) -> tuple[Quote, Target]:
            return chat.quote(conversation_id, text, target), target

        job = FunctionJob(work)
        self._job_id = job.job_id
        job.finished.connect(self.on_quote)
        job.failed.connect(self.on_failed)
        self.pool.submit(job, "io")

    def on_quote(self, job_id: int, data: Any) -> None:
        if job_id == self._job_id and isinstance(data, tuple):
            quote, target = data
            self.last_quote = quote
            self.composer.show_cost(quote_text(quote, target))

    def on_failed(self, job_id: int, message: str) -> None:
        if job_id == self._job_id:
            self.composer.show_cost(f"Can't tell what this will cost: {message}")
