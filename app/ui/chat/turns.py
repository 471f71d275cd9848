"""The turns of the open conversation: send, stop, regenerate, edit and resend; the answer
streaming in, the model's load progress before it, and a hard budget's one-click override."""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
)

from app.core.billing.errors import BudgetExceededError
from app.core.chat.conversations import Message
from app.core.llm.contract import Outcome
from app.ui.chat.turn_runner import TurnRunner

if TYPE_CHECKING:
    from collections.abc import Callable, Generator
    from threading import Event

    from app.core.chat.attachments import Attachment
    from app.core.chat.conversations import Conversation
    from app.core.chat.service import TurnResult
    from app.core.llm.targets import Target
    from app.ui.chat.banner import ErrorBanner
    from app.ui.chat.composer import Composer
    from app.ui.chat.message_view import MessageView
    from app.ui.chat.session import ChatSession
    from app.workers import WorkerPool
    from app.workers.chat_job import TurnFactory

NO_MODEL = "No model is installed yet. Add one in the Models tab, then send again."


class SignalRelay(QObject):
    """Carries a report made on a worker thread (a budget warning, llama.cpp's load
    progress) to the GUI thread.

    Signals:
        warning_received(message)
        progressed(model, fraction)
    """

    warning_received = Signal(str)
    progressed = Signal(str, float)

    def warn(self, message: str) -> None:
        self.warning_received.emit(message)

    def report(self, model: str, fraction: float) -> None:
        self.progressed.emit(model, fraction)


class ChatTurns(QObject):
    """One turn at a time, on the worker pool's local lane (`runner`).

    Signals:
        turn_shown: a turn ended and the view shows how (not while the window closes)
        model_changed: a local model finished loading, or a turn ended
    """

    turn_shown = Signal()
    model_changed = Signal()

    def __init__(
        self,
        session: ChatSession,
        pool: WorkerPool,
        view: MessageView,
        composer: Composer,
        banner: ErrorBanner,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.ctx = session.ctx
        self.view = view
        self.composer = composer
        self.banner = banner
        self._pending_prompt = ""
        self._pending_attachments: tuple[Attachment, ...] = ()
        self._loading_model = ""
        self.load_progress = SignalRelay(self)
        self.load_progress.progressed.connect(self._on_load_progress)
        self.budget_warnings = SignalRelay(self)
        self.budget_warnings.warning_received.connect(banner.show_error)
        self.ctx.route_budget_warnings(self.budget_warnings.warn)
        self.runner = TurnRunner(pool, self)
        self.runner.text_received.connect(self._on_text)
        self.runner.turn_finished.connect(self._on_finished)
        self.runner.turn_failed.connect(self._on_failed)
        self.runner.turn_ended.connect(self._on_ended)
        banner.override_button.clicked.connect(self.override_budget)
        view.resend_requested.connect(self.resend_edited)
        view.regenerate_requested.connect(self.regenerate)
        composer.send_requested.connect(self.send)
        composer.stop_requested.connect(self.stop)
        session.generating_changed.connect(composer.set_generating)
        session.generating_changed.connect(view.set_generating)

    # what the user does --------------------------------------------------------------
    def send(self, text: str) -> None:
        if self.session.generating or not (text.strip() or self.composer.attachments):
            return
        conv = self.session.ensure_conversation()
        target = self._turn_target(conv)
        if target is None:
            return
        self._pending_prompt = text
        attachments = self.composer.take_attachments()
        self._pending_attachments = attachments
        self.composer.set_text("")
        placeholder = _placeholder(conv.id, "user", text)
        self.view.append_message(dataclasses.replace(placeholder, attachments=attachments))
        start = functools.partial(self.ctx.chat.send, conv.id, text, target,
                                  attachments=attachments)  # fmt: skip
        self._start(conv.id, target, start)

    def regenerate(self) -> None:
        conv = self.session.current_conversation()
        if self.session.generating or conv is None or (target := self._turn_target(conv)) is None:
            return
        users = [i for i, w in enumerate(self.view.widgets) if w.role == "user"]
        self.view.truncate(users[-1] + 1 if users else 0)
        self._pending_prompt = ""
        self._start(conv.id, target, functools.partial(self.ctx.chat.regenerate, conv.id, target))

    def resend_edited(self, message_id: int, text: str) -> None:
        conv = self.session.current_conversation()
        if self.session.generating or conv is None or (target := self._turn_target(conv)) is None:
            return
        for index, widget in enumerate(self.view.widgets):
            if widget.message is not None and widget.message.id == message_id:
                widget.set_message(dataclasses.replace(widget.message, content=text))
                self.view.truncate(index + 1)
                break
        self._pending_prompt = ""
        start = functools.partial(self.ctx.chat.resend_edited, message_id, text, target)
        self._start(conv.id, target, start)

    def stop(self) -> None:
        self.runner.stop()

    def override_budget(self) -> None:
        self.ctx.ledger.override_budget_once()
        self.regenerate()

    def reattach(self) -> None:
        """The conversation being answered was opened again: stream into its answer."""
        if not self.session.is_answering(self.session.conversation_id) or not self.view.widgets:
            return
        last = self.view.widgets[-1].message
        if last is not None and last.role == "assistant" and last.outcome == Outcome.STREAMING:
            self.view.start_live(last, self.runner.text)

    def shutdown(self) -> None:
        """Stop the answer and wait until its partial text is stored."""
        self.runner.shutdown()

    # the turn ------------------------------------------------------------------------
    def _turn_target(self, conv: Conversation) -> Target | None:
        target = self.session.target(conv)
        if target is None:
            self.banner.show_error(NO_MODEL)
        return target

    def _start(self, conversation_id: int, target: Target, start_turn: TurnFactory) -> None:
        self.banner.hide_error()
        placeholder = _placeholder(conversation_id, "assistant", "", target)
        self.view.start_live(placeholder)
        self._loading_model = ""
        if target.backend == "local":
            # This turn's load reports here; a gateway request's load reports nowhere.
            start_turn = _reporting(start_turn, self.load_progress.report)
            if not self.ctx.local.is_loaded(target.model):
                self._loading_model = target.model
                self.view.show_loading(target.model, 0.0)  # "loading model", not "writing"
        self.runner.start(conversation_id, start_turn)
        self.session.set_answering(conversation_id)

    def _on_load_progress(self, model: str, fraction: float) -> None:
        if self._loading_model and self.runner.conversation_id == self.session.conversation_id:
            self.view.show_loading(model, fraction)

    def _end_loading(self) -> None:
        if self._loading_model:
            self._loading_model = ""
            self.view.show_loading("", None)
            self.model_changed.emit()  # the status bar names the model that just loaded

    def _on_text(self, text: str) -> None:
        self._end_loading()
        if self.runner.text == text:
            # The first text: the question is stored and may have titled the conversation.
            self.session.stored()
        if self.runner.conversation_id == self.session.conversation_id:
            self.view.append_live_text(text)

    def _on_finished(self, result: TurnResult) -> None:
        if self.session.closing:
            return
        if result.conversation_id == self.session.conversation_id:
            self.view.finish_live()
            self.view.set_messages(self._held_messages(result.conversation_id))
        self.session.stored()

    def _on_failed(self, message: str) -> None:
        if self.session.closing:
            return
        self.banner.show_error(message)
        # A hard budget refused the turn (its question is stored): offer the one-click override.
        self.banner.offer_override(message.startswith(BudgetExceededError.PREFIX))
        cid = self.runner.conversation_id
        messages = self._held_messages(cid) if cid is not None else []
        # A failure after the question was stored (a budget, say) keeps it; Regenerate retries.
        stored = bool(messages) and messages[-1].role == "user"
        stored = stored and messages[-1].content == self._pending_prompt
        if cid is not None and cid == self.session.conversation_id:
            self.view.stop_live()
            self.view.set_messages(messages)
        if self._pending_prompt and not self.composer.text().strip() and not stored:
            self.composer.set_text(self._pending_prompt)  # lose nothing the user typed
        if self._pending_attachments and not stored and not self.composer.attachments:
            self.composer.add_attachments(list(self._pending_attachments))
        self.session.stored()

    def _on_ended(self) -> None:
        self._pending_prompt = ""
        self._pending_attachments = ()
        self._end_loading()
        self.session.set_answering(None)
        if self.session.closing:
            return
        self.turn_shown.emit()  # the answer is history now; the model may be loaded
        self.model_changed.emit()
        if not self._typing_elsewhere():
            self.composer.focus_editor()  # ready for the next message
        if self.view.live_widget is not None and self.session.conversation_id is not None:
            # Cancelled before it started: nothing was stored.
            self.view.stop_live()
            self.view.set_messages(self._held_messages(self.session.conversation_id))

    def _held_messages(self, conversation_id: int) -> list[Message]:
        """The stored messages the view holds (its newest part), to refresh it after a turn."""
        open_now = conversation_id == self.session.conversation_id
        return self.ctx.store.messages(conversation_id, self.view.first_position if open_now else 0)

    def _typing_elsewhere(self) -> bool:
        """Whether the user is in another text field or window (don't take the focus)."""
        focused = QApplication.focusWidget()
        if focused is None or focused is self.composer.editor:
            return False
        if focused.window() is not self.composer.window():
            return True
        if isinstance(focused, QTextEdit | QPlainTextEdit):
            return not focused.isReadOnly()
        return isinstance(focused, QLineEdit | QAbstractSpinBox)


def _placeholder(
    conversation_id: int, role: str, text: str, target: Target | None = None
) -> Message:
    """A message shown before the store has it (id 0); replaced when the turn ends."""
    return Message(
        id=0,
        conversation_id=conversation_id,
        position=-1,
        role=role,
        content=text,
        created_at=time.time(),
        backend=target.backend if target else None,
        model=target.model if target else None,
        outcome=str(Outcome.STREAMING) if role == "assistant" else None,
    )


def _reporting(turn: TurnFactory, report: Callable[[str, float], None]) -> TurnFactory:
    """`turn`, with this tab hearing of the model load it causes."""

    def start(
        cancel: Event, *, on_load_progress: Callable[[str, float], None] | None = None
    ) -> Generator[str, None, TurnResult]:
        return turn(cancel, on_load_progress=on_load_progress or report)

    return start
