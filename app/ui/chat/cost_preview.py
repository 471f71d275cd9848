"""Cost before sending: what the next request can cost at most, under the message box.

The prompt is counted and priced on the "io" lane once typing pauses
(counting may load Mistral's tokenizer, seconds the first time); the figure
is the one the hard-budget check uses when the message is sent
(`ChatService.quote`). Stale results are dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.core.billing.costs import CostSource
from app.ui.chat.composer_figure import ComposerFigure
from app.ui.locale_format import money, number

if TYPE_CHECKING:
    import threading

    from app.core.billing.ledger import Quote
    from app.core.llm.targets import Target
    from app.workers.jobs import ProgressFn



def quote_text(quote: Quote, target: Target) -> str:
    """One line a user reads before sending."""
    tokens = (f"{number(quote.prompt_tokens)} prompt tokens ({quote.token_source}) + up to "
              f"{number(quote.max_tokens)} answer tokens")  # fmt: skip
    match quote.basis:
        case CostSource.ENERGY_ESTIMATED:
            return "Local model: costs only this machine's electricity."
        case CostSource.HOURLY:
            return f"{target.backend} is billed by the hour: its cost depends on how long it runs."
        case CostSource.NO_PRICE:
            return (f"No price known for {target.model}: set one under Billing → Prices "
                    "to see what it costs before sending.")  # fmt: skip
    return f"Up to {money(quote.amount, quote.currency)} on {target.model} · {tokens}"


class CostPreview(ComposerFigure):
    """Keeps the composer's cost line up to date for the current conversation and target."""

    last_quote: Quote | None = None  # the newest figure shown

    def schedule(self) -> None:
        if self.composer.text().strip() or self.composer.cost_label.isVisible():
            self.timer.start()

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
        attachments = tuple(self.composer.attachments)

        def work(_cancel: threading.Event, _progress: ProgressFn) -> tuple[Quote, Target]:
            return chat.quote(conversation_id, text, target, attachments), target

        self.submit(work)

    def on_result(self, data: Any) -> None:
        if isinstance(data, tuple):
            quote, target = data
            self.last_quote = quote
            self.composer.show_cost(quote_text(quote, target))

    def on_error(self, message: str) -> None:
        self.composer.show_cost(f"Can't tell what this will cost: {message}")
