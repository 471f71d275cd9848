"""The Chat tab's parts that need no model: list, settings, model control, rendering."""

from __future__ import annotations

import itertools
import threading
from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics, QGuiApplication
from PySide6.QtWidgets import QMessageBox, QStyle, QStyleOptionComboBox, QWidget

from app.core.billing.errors import BudgetExceededError
from app.core.chat.conversations import Message
from app.core.chat.projects import ProjectStore
from app.core.llm.contract import GenerationResult, Outcome, Sampling, TokenSource, Usage
from app.core.llm.targets import Target, TargetOption
from app.ui.chat import ChatTab
from app.ui.chat.live_answer import RENDER_INTERVAL_MS
from app.ui.chat.message_view import FIRST_SCREEN, PAGE, WINDOW
from app.ui.chat.target_picker import TargetPicker
from app.ui.chat.view_model import UNANSWERED_NOTE
from app.ui.render.text_block import CodeBlock, TextSegment
from app.workers import WorkerPool
from tests.helpers.counting_cloud import CountingCloud

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pytestqt.qtbot import QtBot

    from app.core.context import AppContext

LEFT = Qt.MouseButton.LeftButton
pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")

MARKDOWN = """# Heading

Some **bold** text and a list:

- one
- two

| a | b |
|---|---|
| 1 | 2 |

```python
print("hello")
```
"""


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    workers = WorkerPool()
    yield workers
    workers.shutdown()


def make_tab(qtbot: QtBot, ctx: AppContext, pool: WorkerPool) -> ChatTab:
    tab = ChatTab(ctx, pool)
    qtbot.addWidget(tab)
    tab.resize(1000, 700)
    tab.show()
    return tab


def add_exchange(ctx: AppContext, question: str, answer: str, **result: object) -> int:
    """A conversation with one finished turn, written straight into the store."""
    conv = ctx.store.create()
    ctx.store.add_user_message(conv.id, question)
    msg = ctx.store.start_assistant_message(conv.id, "local", "llama.cpp", "SmolLM2")
    fields: dict[str, object] = {
        "text": answer, "outcome": Outcome.DONE, "usage": Usage(10, 20, TokenSource.COUNTED),
        "backend": "local", "provider": "llama.cpp", "model": "SmolLM2", "ttft_s": 0.1,
        "duration_s": 0.5,
    }  # fmt: skip
    fields.update(result)
    ctx.store.finish_assistant_message(msg.id, GenerationResult(**fields))  # type: ignore[arg-type]
    ctx.store.touch(conv.id)
    return conv.id


def test_empty_state_for_a_new_conversation(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool
) -> None:
    tab = make_tab(qtbot, ctx, pool)
    assert tab.conversation_id is None
    assert tab.view.empty_label.isVisibleTo(tab)
    assert "Start a conversation" in tab.view.empty_label.text()
    tab.new_conversation()
    assert tab.conversation_id is not None
    assert tab.conversations.titles() == ["New conversation"]
    tab.new_conversation()  # the empty one is reused, not duplicated
    assert len(tab.conversations.ids()) == 1


def test_conversation_list_new_rename_delete_search(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool
) -> None:
    first = add_exchange(ctx, "About apples", "Apples are red.")
    second = add_exchange(ctx, "About pears", "Pears are green and taste of honey.")
    tab = make_tab(qtbot, ctx, pool)
    assert tab.conversations.ids() == [second, first]  # most recent first
    assert tab.conversation_id == second
    # New
    qtbot.mouseClick(tab.conversations.new_button, LEFT)
    assert len(tab.conversations.ids()) == 3
    assert tab.view.widgets == []
    # Select, then rename in place
    tab.conversations.select(first)
    assert tab.conversation_id == first
    assert [w.text for w in tab.view.widgets] == ["About apples", "Apples are red."]
    tab.conversations.list.currentItem().setText("Fruit notes")
    assert ctx.store.get(first).title == "Fruit notes"
    assert tab.title.text() == "Fruit notes"
    # Search over titles and content
    qtbot.keyClicks(tab.conversations.search, "honey")
    qtbot.waitUntil(lambda: tab.conversations.ids() == [second])
    tab.conversations.search.clear()
    qtbot.waitUntil(lambda: len(tab.conversations.ids()) == 3)
    qtbot.keyClicks(tab.conversations.search, "fruit")
    qtbot.waitUntil(lambda: tab.conversations.ids() == [first])
    tab.conversations.search.clear()
    qtbot.waitUntil(lambda: len(tab.conversations.ids()) == 3)
    # Delete asks first; Cancel keeps it
    tab.conversations.select(first)
    qtbot.mouseClick(tab.conversations.delete_button, LEFT)
    box = tab.conversations.confirm_box
    assert box is not None
    assert "Fruit notes" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert first in tab.conversations.ids()
    qtbot.mouseClick(tab.conversations.delete_button, LEFT)
    box = tab.conversations.confirm_box
    assert box is not None
    box.button(QMessageBox.StandardButton.Yes).click()
    assert first not in tab.conversations.ids()
    assert [c.id for c in ctx.store.list()] == tab.conversations.ids()
    assert tab.conversation_id != first


def test_markdown_renders_with_code_blocks_and_copy(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool
) -> None:
    add_exchange(ctx, "Show me markdown", MARKDOWN)
    tab = make_tab(qtbot, ctx, pool)
    answer = tab.view.widgets[-1]
    blocks = answer.body.segment_widgets
    assert [type(b) for b in blocks] == [TextSegment, CodeBlock]
    prose = blocks[0]
    assert isinstance(prose, TextSegment)
    doc = prose.document()
    assert doc.toPlainText().startswith("Heading")
    assert doc.firstBlock().blockFormat().headingLevel() == 1
    assert "bold" in doc.toPlainText()
    cursor_tables = [
        f for f in doc.rootFrame().childFrames() if f.__class__.__name__ == "QTextTable"
    ]
    assert len(cursor_tables) == 1
    code = blocks[1]
    assert isinstance(code, CodeBlock)
    assert code.language.text() == "python"
    metrics = QFontMetrics(code.text.font())
    assert metrics.horizontalAdvance("iiii") == metrics.horizontalAdvance("MMMM")  # monospace
    qtbot.mouseClick(code.copy_button, LEFT)
    assert QGuiApplication.clipboard().text() == 'print("hello")'
    qtbot.mouseClick(answer.copy_button, LEFT)
    assert QGuiApplication.clipboard().text() == MARKDOWN
    # The block is exactly as tall as its text at its width.
    width = prose.width()
    assert prose.heightForWidth(width) == prose.heightForWidth(width) > 40


def test_html_in_an_answer_is_shown_as_text(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool
) -> None:
    add_exchange(ctx, "q", "<<Title>>\n\n* after the tag")
    tab = make_tab(qtbot, ctx, pool)
    block = tab.view.widgets[-1].body.segment_widgets[0]
    assert isinstance(block, TextSegment)
    assert "after the tag" in block.document().toPlainText()


def test_answer_notices_for_trimmed_turns_and_errors(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool
) -> None:
    add_exchange(ctx, "q1", "Partial", trimmed_turns=3)
    add_exchange(ctx, "q2", "", outcome=Outcome.ERROR, error="The model ran out of memory.")
    tab = make_tab(qtbot, ctx, pool)
    error = tab.view.widgets[-1]
    assert error.notice.isVisibleTo(tab)
    # Issue 13: an answer without text also says how its question will be sent.
    assert error.notice.text() == f"The model ran out of memory.\n{UNANSWERED_NOTE}"
    assert error.meta.text().endswith("error")
    tab.conversations.select(tab.conversations.ids()[1])
    trimmed = tab.view.widgets[-1]
    assert "3 earlier messages were left out to fit the model's context" in trimmed.notice.text()


def test_settings_reject_bad_values_and_keep_the_input(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool
) -> None:
    tab = make_tab(qtbot, ctx, pool)
    tab.options.open_settings()
    dialog = tab.options.settings_dialog
    assert dialog is not None
    assert dialog.isVisible()
    cid = dialog.conversation_id
    dialog.system_prompt.setPlainText("Answer like a pirate.")
    dialog.temperature.setText("5")
    dialog.accept()
    assert dialog.isVisible()
    assert dialog.error.text() == "Temperature must be between 0 and 2."
    assert dialog.system_prompt.toPlainText() == "Answer like a pirate."
    assert ctx.store.get(cid).system_prompt == ""
    dialog.temperature.setText("warm")
    dialog.accept()
    assert dialog.error.text() == "Temperature must be a number."
    dialog.temperature.setText("0.3")
    dialog.max_tokens.setText("256")
    dialog.context_length.setText("2048")
    dialog.accept()
    assert not dialog.isVisible()
    conv = ctx.store.get(cid)
    assert conv.system_prompt == "Answer like a pirate."
    assert conv.sampling == Sampling(
        temperature=0.3, top_p=0.95, max_tokens=256, context_length=2048
    )


def test_model_control_groups_targets(qtbot: QtBot, ctx: AppContext, pool: WorkerPool) -> None:
    tab = make_tab(qtbot, ctx, pool)
    picker = tab.target_picker
    default = str(ctx.default_target())
    assert picker.current_target() == default
    model = picker.model()
    assert model.index(0, 0).data() == "Local models"
    assert not model.flags(model.index(0, 0)) & model.flags(model.index(1, 0))
    # Choosing a target sets where the conversation's next turn goes.
    tab.new_conversation()
    picker.choose(default)
    assert ctx.store.get(tab.conversation_id or 0).target == default


def test_model_control_shows_unavailable_options_disabled(qtbot: QtBot) -> None:
    picker = TargetPicker()
    qtbot.addWidget(picker)
    options = [
        TargetOption(Target("local", "small"), "small", "Local models"),
        TargetOption(Target("mistral", "mistral-small-latest"), "Mistral Small", "Mistral",
                     available=False, reason="Add a Mistral API key first."),
    ]  # fmt: skip
    picker.set_options(options, "local:small")
    model = picker.model()
    labels = [model.index(r, 0).data() for r in range(model.rowCount())]
    assert [label.strip() for label in labels] == [
        "Local models",
        "small",
        "Mistral",
        "Mistral Small",
        "Add provider…",
    ]
    cloud = model.item(3)  # type: ignore[attr-defined]
    assert not cloud.isEnabled()
    assert cloud.toolTip() == "Add a Mistral API key first."
    with qtbot.assertNotEmitted(picker.target_chosen):
        picker.choose("mistral:mistral-small-latest")
    picker.set_options(options, "local:gone")
    assert picker.current_target() == "local:gone"
    assert "not available" in picker.currentText()


def test_model_control_shows_the_whole_model_name(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool
) -> None:
    tab = make_tab(qtbot, ctx, pool)
    tab.resize(1240, 800)
    picker = tab.target_picker
    name = "SmolLM2-135M-Instruct.Q4_1"
    assert picker.shown_text() == name
    qtbot.waitUntil(lambda: picker.width() >= picker.sizeHint().width())
    field = picker.style().subControlRect(
        QStyle.ComplexControl.CC_ComboBox, _combo_option(picker),
        QStyle.SubControl.SC_ComboBoxEditField, picker,
    )  # fmt: skip
    assert field.width() >= picker.fontMetrics().horizontalAdvance(name)
    # The open list is wide enough for every option's whole name.
    metrics = picker.fontMetrics()
    labels = [picker.model().index(r, 0).data() for r in range(picker.model().rowCount())]
    assert picker.view().minimumWidth() >= max(map(metrics.horizontalAdvance, labels))


def _combo_option(picker: TargetPicker) -> QStyleOptionComboBox:
    opt = QStyleOptionComboBox()
    picker.initStyleOption(opt)
    return opt


@pytest.mark.parametrize("size", [(1200, 800), (800, 600)])
def test_usable_at_common_window_sizes(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool, size: tuple[int, int]
) -> None:
    add_exchange(ctx, "Show me markdown", MARKDOWN)
    tab = make_tab(qtbot, ctx, pool)
    tab.resize(*size)
    qtbot.waitUntil(lambda: tab.view.viewport().width() > 0)
    for widget in (tab.composer.send_button, tab.target_picker, tab.settings_button, tab.view):
        assert widget.isVisibleTo(tab)
        rect = widget.geometry()
        assert rect.width() > 0
        assert rect.height() > 0
    assert tab.view.width() >= 400
    assert tab.conversations.width() >= 150


@pytest.mark.parametrize(("size", "rows"), [((720, 480), 2), ((800, 600), 2), ((1200, 800), 1)])
def test_the_toolbar_never_draws_one_control_over_another(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool, size: tuple[int, int], rows: int
) -> None:
    """Squeezed into one row, a narrow window drew the title, the pickers and the buttons
    over each other; the toolbar takes a second row instead."""
    tab = make_tab(qtbot, ctx, pool)
    tab.resize(*size)
    toolbar = tab.toolbar
    widgets = [w for w in toolbar.findChildren(QWidget) if w.parent() is toolbar]
    shown = [w for w in widgets if w.isVisibleTo(tab)]

    def lines() -> int:
        tops = sorted({w.geometry().top() for w in shown})
        return 1 + sum(1 for a, b in itertools.pairwise(tops) if b - a > 12)

    qtbot.waitUntil(lambda: lines() == rows)
    for i, first in enumerate(shown):
        assert first.width() >= max(first.minimumSizeHint().width(), first.minimumWidth())
        for second in shown[i + 1 :]:
            assert not first.geometry().intersects(second.geometry()), (first, second)


def test_long_conversations_open_on_their_newest_messages(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool
) -> None:
    cid = add_exchange(ctx, "q0", "a0")
    for i in range(1, 50):
        ctx.store.add_user_message(cid, f"q{i}")
        msg = ctx.store.start_assistant_message(cid, "local", "llama.cpp", "SmolLM2")
        ctx.store.checkpoint(msg.id, f"a{i}", 1)
    tab = make_tab(qtbot, ctx, pool)
    view = tab.view
    # The newest screenful at once; the rest of the window fills in between events.
    assert [w.text for w in view.widgets] == [f"{r}{i}" for i in range(47, 50) for r in "qa"]
    assert len(view.widgets) == FIRST_SCREEN
    assert not view.earlier_button.isVisibleTo(tab)  # until the window has filled
    qtbot.waitUntil(lambda: not view.filling)
    assert len(view.widgets) == WINDOW
    assert view.widgets[-1].text == "a49"
    assert view.widgets[0].text == f"q{50 - WINDOW // 2}"
    assert view.hidden_count == 100 - WINDOW
    assert view.earlier_button.isVisibleTo(tab)
    # A page renders a few messages at a time (issue 15: 40 at once stalled the window).
    qtbot.mouseClick(view.earlier_button, LEFT)
    qtbot.waitUntil(lambda: not view.filling)
    assert len(view.widgets) == WINDOW + PAGE
    qtbot.mouseClick(view.earlier_button, LEFT)
    qtbot.waitUntil(lambda: not view.filling)
    assert [w.text for w in view.widgets[:2]] == ["q0", "a0"]
    assert len(view.widgets) == 100
    assert not view.earlier_button.isVisibleTo(tab)
    assert not view.empty_label.isVisibleTo(tab)


def test_only_the_live_answer_renders_and_the_view_follows_it(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool
) -> None:
    cid = add_exchange(ctx, "Tell me a lot", "A paragraph of the answer.\n\n" * 80)
    tab = make_tab(qtbot, ctx, pool)
    view = tab.view
    bar = view.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() == bar.maximum())
    finished = [b for w in view.widgets for b in w.body.segment_widgets]
    revisions = [b.text._revision if isinstance(b, CodeBlock) else b._revision for b in finished]
    live = Message(id=0, conversation_id=cid, position=-1, role="assistant", content="",
                   created_at=0.0, outcome="streaming")  # fmt: skip
    view.start_live(live)

    def stream(text: str) -> None:
        renders = view.live.renders
        view.append_live_text(text)
        qtbot.waitUntil(lambda: view.live.renders > renders)

    stream("The first words")
    before = view.live.renders
    for _ in range(50):  # a burst of text between two frames is rendered once
        view.append_live_text("")
    qtbot.wait(2 * RENDER_INTERVAL_MS)  # testing a timer: let it fire if it would
    assert view.live.renders <= before + 1
    stream(" and more words.\n\n" * 30)
    qtbot.waitUntil(lambda: bar.value() == bar.maximum())
    bar.setValue(0)  # the user scrolls up to read: the view stays there
    top_max = bar.maximum()
    stream("Another paragraph.\n\n" * 30)
    qtbot.waitUntil(lambda: bar.maximum() > top_max)
    assert bar.value() == 0
    bar.setValue(bar.maximum())  # back at the bottom: following again
    stream("The end.\n\n" * 30)
    qtbot.waitUntil(lambda: bar.value() == bar.maximum())
    view.finish_live()
    assert view.widgets[-1].text.startswith("The first words and more words.")
    after = [b.text._revision if isinstance(b, CodeBlock) else b._revision for b in finished]
    assert after == revisions  # finished messages were never rendered again


def test_a_new_conversation_takes_its_models_default_sampling(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool
) -> None:
    tab = make_tab(qtbot, ctx, pool)
    tab.new_conversation()
    cid = tab.conversation_id or 0
    assert ctx.store.get(cid).sampling.temperature == 0.7
    tab.options.choose_target("mistral:mistral-small-latest")
    conv = ctx.store.get(cid)
    assert conv.target == "mistral:mistral-small-latest"
    assert conv.sampling.temperature == 0.15
    assert tab.target_picker.current_target() == "mistral:mistral-small-latest"


def test_local_only_is_kept_per_conversation(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool
) -> None:
    first = add_exchange(ctx, "private", "ok")
    second = add_exchange(ctx, "public", "ok")
    tab = make_tab(qtbot, ctx, pool)
    assert tab.conversation_id == second
    assert not tab.local_only_button.isChecked()
    qtbot.mouseClick(tab.local_only_button, LEFT)
    assert ctx.store.get(second).local_only
    tab.conversations.select(first)
    assert not tab.local_only_button.isChecked()
    assert not ctx.store.get(first).local_only
    tab.conversations.select(second)
    assert tab.local_only_button.isChecked()


def test_editing_a_message_can_be_cancelled(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool
) -> None:
    add_exchange(ctx, "My question", "An answer")
    tab = make_tab(qtbot, ctx, pool)
    question = tab.view.widgets[0]
    assert not tab.view.widgets[1].edit_button.isVisibleTo(tab)  # answers are not editable
    qtbot.mouseClick(question.edit_button, LEFT)
    assert question.editor is not None
    assert question.editor.isVisibleTo(tab)
    assert not question.body.isVisibleTo(tab)
    question.editor.setPlainText("Changed my mind")
    with qtbot.assertNotEmitted(question.resend_requested):
        qtbot.keyClick(question.editor, Qt.Key.Key_Escape)
    assert not question.editor.isVisibleTo(tab)
    assert question.text == "My question"
    assert [m.content for m in ctx.store.messages(tab.conversation_id or 0)] == [
        "My question",
        "An answer",
    ]


def test_add_provider_is_an_action_that_keeps_the_choice(qtbot: QtBot) -> None:
    picker = TargetPicker()
    qtbot.addWidget(picker)
    picker.set_options([TargetOption(Target("local", "small"), "small", "Local models")],
                       "local:small")  # fmt: skip
    last = picker.model().rowCount() - 1
    with qtbot.waitSignal(picker.add_provider_requested), \
            qtbot.assertNotEmitted(picker.target_chosen):
        picker.setCurrentIndex(last)
        picker.activated.emit(last)
    assert picker.current_target() == "local:small"


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
    conv = tab.session.current_conversation()
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
    gen = ctx.chat.send(conv.id, tab.composer.text(), tab.session.quote_context()[1],
                        threading.Event())  # fmt: skip
    with pytest.raises(BudgetExceededError, match=f"could cost up to {quote.amount:.4f}"):
        next(gen)
    assert cloud.calls == 0
