"""Issue 14 in the chat window: projects chosen in the toolbar, cost shown before sending."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest

from app.core.billing.errors import BudgetExceededError
from app.core.chat.backend import GenerationRequest, GenerationResult, Outcome, TokenSource, Usage
from app.core.chat.projects import ProjectStore
from app.ui.chat import ChatTab
from app.workers import WorkerPool

if TYPE_CHECKING:
    from collections.abc import Generator, Iterator

    from pytestqt.qtbot import QtBot

    from app.core.context import AppContext


class CountingCloud:
    """A Mistral-API stand-in that counts how often it was asked (nothing leaves the test)."""

    name = "mistral"
    provider = "mistral"

    def __init__(self) -> None:
        self.calls = 0

    def stream(
        self, request: GenerationRequest, cancel: threading.Event
    ) -> Generator[str, None, GenerationResult]:
        self.calls += 1
        yield "ok"
        return GenerationResult("ok", Outcome.DONE, Usage(10, 1, TokenSource.REPORTED),
                                "mistral", "mistral", request.model, 0.1, 0.2)  # fmt: skip


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    workers = WorkerPool()
    yield workers
    workers.shutdown()


def make_tab(qtbot: QtBot, ctx: AppContext, pool: WorkerPool) -> ChatTab:
    tab = ChatTab(ctx, pool)
    qtbot.addWidget(tab)
    tab.resize(1100, 700)
    tab.show()
    return tab


def test_the_toolbar_puts_a_conversation_in_a_project_shown_in_the_list(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool
) -> None:
    """Input 2: nothing in the window put a conversation in a project."""
    ProjectStore(ctx.db).set_bill_to("globex", None)
    tab = make_tab(qtbot, ctx, pool)
    tab.new_conversation()
    chooser = tab.toolbar.project_chooser
    assert "globex" in [chooser.itemText(i) for i in range(chooser.count())]
    chooser.setEditText("acme")
    chooser.lineEdit().editingFinished.emit()
    conv = tab.current_conversation()
    assert conv is not None and conv.project == "acme"
    assert tab.conversations.projects()[tab.conversations.ids().index(conv.id)] == "acme"
    chooser.setCurrentIndex(0)  # "No project"
    chooser.activated.emit(0)
    assert ctx.store.get(conv.id).project is None


def test_the_cost_before_sending_is_the_figure_the_hard_budget_checks(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool
) -> None:
    cloud = CountingCloud()
    ctx.backends.register("mistral", lambda: cloud)
    tab = make_tab(qtbot, ctx, pool)
    conv = ctx.store.create(target="mistral:mistral-small-2506")
    tab.open_conversation(conv.id)
    tab.composer.set_text("Summarise the history of the printing press in detail. " * 10)
    label = tab.composer.cost_label
    qtbot.waitUntil(lambda: label.isVisible() and label.text().startswith("Up to $"),
                    timeout=20_000)  # fmt: skip
    quote = tab.cost_preview.last_quote
    assert quote is not None and quote.amount is not None
    assert quote.max_tokens == ctx.store.get(conv.id).sampling.max_tokens
    assert f"{quote.prompt_tokens:,} prompt tokens" in label.text()
    # A hard budget just under that figure refuses the request: the same figure, to the digit.
    ctx.ledger.budgets.set(quote.amount * 0.99, "day", hard=True)
    gen = ctx.chat.send(conv.id, tab.composer.text(), tab._quote_context()[1],
                        threading.Event())  # fmt: skip
    with pytest.raises(BudgetExceededError, match=f"could cost up to {quote.amount:.4f}"):
        next(gen)
    assert cloud.calls == 0
