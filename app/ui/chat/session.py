"""What the Chat tab's rooms share: the open conversation, where its turns go, and whether
an answer is being written."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from app.core.foundation.errors import ParleyError
from app.core.llm.sampling_defaults import default_sampling
from app.core.llm.targets import Target
from app.ui.chat.view_model import conversation_target

if TYPE_CHECKING:
    from collections.abc import Callable

    from app.core.chat.conversations import Conversation
    from app.core.context import AppContext


class ChatSession(QObject):
    """The open conversation (`conversation_id`), the one being answered (`answering`), and
    the target the toolbar has picked for a conversation not made yet.

    Signals:
        conversation_created(conversation_id): made on first need (a send, a setting)
        conversations_changed: a stored conversation changed: the list shows them again
        generating_changed(generating)
    """

    conversation_created = Signal(int)
    conversations_changed = Signal()
    generating_changed = Signal(bool)

    def __init__(
        self, ctx: AppContext, picked_target: Callable[[], str], parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._picked_target = picked_target
        self.conversation_id: int | None = None
        self.answering: int | None = None
        self.closing = False  # the window closes: results that arrive now are dropped

    @property
    def generating(self) -> bool:
        return self.answering is not None

    def set_answering(self, conversation_id: int | None) -> None:
        """A turn started in `conversation_id`, or (None) the turn ended."""
        self.answering = conversation_id
        self.generating_changed.emit(conversation_id is not None)

    def is_answering(self, conversation_id: int | None) -> bool:
        return conversation_id is not None and self.answering == conversation_id

    def current_conversation(self) -> Conversation | None:
        if self.conversation_id is None:
            return None
        try:
            return self.ctx.store.get(self.conversation_id)
        except ParleyError:
            return None

    def target(self, conv: Conversation | None = None) -> Target | None:
        """Where `conv`'s (by default the open conversation's) next turn goes."""
        conv = conv if conv is not None else self.current_conversation()
        return conversation_target(conv, self.ctx.default_target())

    def quote_context(self) -> tuple[int | None, Target | None]:
        """(open conversation, its target): what the cost line and the context meter price."""
        conv = self.current_conversation()
        return (conv.id if conv else None), self.target(conv)

    def default_target_text(self) -> str:
        target = self.ctx.default_target()
        return str(target) if target else ""

    def new_target_text(self) -> str:
        """The target a new conversation gets: the toolbar's pick, else the default."""
        return self._picked_target() or self.default_target_text()

    def create_conversation(self, target: str) -> Conversation:
        model = Target.parse(target).model if target else ""
        conv = self.ctx.store.create(target=target, sampling=default_sampling(model))
        self.conversations_changed.emit()
        return conv

    def ensure_conversation(self) -> Conversation:
        """The open conversation; made now when there is none."""
        conv = self.current_conversation()
        if conv is None:
            conv = self.create_conversation(self.new_target_text())
            self.conversation_id = conv.id
            self.conversation_created.emit(conv.id)
        return conv

    def stored(self) -> None:
        """A room wrote conversations (a title, a pin, a folder…): the list shows them again."""
        self.conversations_changed.emit()
