"""The conversation: a scrolling column of message widgets.

Finished messages render once. While an answer streams, only the live message is
re-rendered, at most every `RENDER_INTERVAL_MS` (`app.ui.chat.live_answer`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from app.core.llm.contract import Outcome
from app.ui.chat.live_answer import LiveAnswer

if TYPE_CHECKING:
    from collections.abc import Callable

    from app.core.chat.conversations import Message
    from app.ui.chat.message_widget import MessageWidget

    # (position, count) -> up to `count` messages just before `position`, in order
    EarlierLoader = Callable[[int, int], list[Message]]

# Long conversations open on their newest messages; older ones load on request,
# so opening one costs the same whatever its length. The first screen renders at
# once, the rest of the window in small batches between events, so a click on a
# conversation (or start-up) never waits for 40 Markdown renders. "Show earlier"
# renders its page the same way (40 at once stalled the window 0.9-2.7 s), and
# reads older messages from the store a page at a time.
WINDOW = 40
FIRST_SCREEN = 6
BACKFILL_BATCH = 2
PAGE = 40
FOLLOW_SLACK_PX = 32  # "at the bottom" tolerance when deciding to keep following

EMPTY_TEXT = (
    "<h3>Start a conversation</h3>"
    "<p>Type a message below and press <b>Ctrl+Enter</b> to send it. "
    "<b>Esc</b> stops an answer; what was written so far is kept.</p>"
    "<p>Choose the model on the toolbar above; the system prompt and sampling are "
    "under <b>Settings</b>.</p>"
)


class MessageView(QScrollArea):
    """Messages of one conversation, and the live answer.

    Signals:
        resend_requested(message_id, text): a user message was edited and sent
        regenerate_requested: the last answer should be written again
        fork_requested(message_id): a new conversation up to that message
        export_requested: export this conversation
        delete_requested: delete this conversation
    """

    resend_requested = Signal(int, str)
    regenerate_requested = Signal()
    fork_requested = Signal(int)
    export_requested = Signal()
    delete_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageView")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # A scroll bar that comes and goes changes the width every message is laid
        # out at; QScrollArea probes both widths, which would defeat the height caches.
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self._canvas = QWidget(self)
        self._canvas.setObjectName("messageCanvas")
        self._column = QVBoxLayout(self._canvas)
        self._column.setContentsMargins(18, 14, 18, 14)
        self._column.setSpacing(12)
        self.earlier_button = QPushButton(self._canvas)
        self.earlier_button.setObjectName("earlierButton")
        self.earlier_button.setFlat(True)
        self.earlier_button.clicked.connect(self.show_earlier)
        self.earlier_button.hide()
        self._column.addWidget(self.earlier_button, 0, Qt.AlignmentFlag.AlignHCenter)
        self.empty_label = QLabel(EMPTY_TEXT, self._canvas)
        self.empty_label.setObjectName("emptyState")
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._column.addWidget(self.empty_label)
        self._column.addStretch(1)
        self.setWidget(self._canvas)
        self.widgets: list[MessageWidget] = []
        self._hidden: list[Message] = []  # older messages read, not shown yet
        self._unloaded = 0  # older messages still in the store
        self._load_earlier: EarlierLoader | None = None
        self._windowed = False  # the window was chosen for this conversation
        self._backfill = 0  # older messages still to render, batch by batch
        self._backfill_timer = QTimer(self)
        self._backfill_timer.setSingleShot(True)
        self._backfill_timer.timeout.connect(self._backfill_step)
        self._anchor_from_bottom: int | None = None
        self.generating = False
        self.live = LiveAnswer(self)
        self._follow = True
        bar = self.verticalScrollBar()
        bar.rangeChanged.connect(self._on_range_changed)
        bar.valueChanged.connect(self._on_scrolled)

    # whole conversation --------------------------------------------------------
    def set_messages(
        self,
        messages: list[Message],
        *,
        earlier: int = 0,
        load_earlier: EarlierLoader | None = None,
    ) -> None:
        """Show `messages`, reusing the widgets that already show them.

        Opening a conversation passes its newest messages, how many `earlier` ones
        the store holds and how to read them; later calls pass the messages from
        `first_position` on.
        """
        if not self._windowed:
            self._unloaded = earlier if load_earlier is not None else 0
            self._load_earlier = load_earlier
            self._hidden = messages[: max(0, len(messages) - FIRST_SCREEN)]
            self._backfill = min(len(self._hidden), WINDOW - FIRST_SCREEN)
            self._windowed = True
            if self._backfill:
                self._backfill_timer.start(0)
        first = len(self._hidden)
        self._hidden = messages[:first]
        messages = messages[first:]
        self._update_earlier_button()
        for index, msg in enumerate(messages):
            if index < len(self.widgets) and self.widgets[index].role == msg.role:
                self.widgets[index].set_message(msg)
            else:
                self.truncate(index)
                self._append(msg)
        self.truncate(len(messages))
        self._update_actions()

    def clear_messages(self) -> None:
        """Forget the conversation shown; the next `set_messages` opens on its newest part."""
        self.stop_live()
        self.truncate(0)
        self._hidden = []
        self._unloaded = 0
        self._load_earlier = None
        self._windowed = False
        self._backfill = 0
        self._backfill_timer.stop()
        self._update_earlier_button()
        self.empty_label.show()
        self._follow = True

    def show_earlier(self) -> None:
        """Show up to PAGE older messages above the current ones, keeping the view still;
        they render a few at a time between events (`filling` until done)."""
        if self.hidden_count and not self._backfill:
            self._follow = False
            self._backfill = min(PAGE, self.hidden_count)
            self._update_earlier_button()
            self._backfill_timer.start(0)

    @property
    def first_position(self) -> int:
        """The position of the oldest message this view holds (shown or read): 0 if none."""
        if self._hidden:
            return self._hidden[0].position
        saved = [w.message for w in self.widgets if w.message is not None and w.message.id > 0]
        return saved[0].position if saved else 0

    @property
    def filling(self) -> bool:
        """Older messages of the window are still being rendered in the background."""
        return self._backfill > 0

    def _backfill_step(self) -> None:
        count = min(BACKFILL_BATCH, self._backfill)
        self._backfill -= count
        self._insert_earlier(count)
        if self._backfill > 0 and self.hidden_count:
            self._backfill_timer.start(0)
        else:
            self._backfill = 0
            self._update_earlier_button()

    def _insert_earlier(self, count: int) -> None:
        """Render up to `count` hidden messages above the shown ones, keeping the view still."""
        self._read_earlier(count)
        page = self._hidden[-count:] if count > 0 else []
        if not page:
            return
        bar = self.verticalScrollBar()
        self._anchor_from_bottom = bar.maximum() - bar.value()
        self._hidden = self._hidden[: len(self._hidden) - len(page)]
        for offset, msg in enumerate(page):
            widget = self._create(msg)
            self.widgets.insert(offset, widget)
            self._column.insertWidget(self._first_message_row() + offset, widget)
        self._update_earlier_button()
        self._update_actions()

    def _read_earlier(self, count: int) -> None:
        """Make sure `count` older messages are read, reading a page from the store if not."""
        if len(self._hidden) >= count or not self._unloaded or self._load_earlier is None:
            return
        before = self.first_position
        more = self._load_earlier(before, max(PAGE, count - len(self._hidden)))
        self._hidden = more + self._hidden
        self._unloaded = max(0, self._unloaded - len(more)) if more else 0

    @property
    def hidden_count(self) -> int:
        return len(self._hidden) + self._unloaded

    def truncate(self, count: int) -> None:
        """Keep the first `count` messages."""
        while len(self.widgets) > count:
            widget = self.widgets.pop()
            if widget is self.live.widget:
                self.live.stop()
            self._column.removeWidget(widget)
            widget.deleteLater()
        self.empty_label.setVisible(not self.widgets and not self.hidden_count)
        self._update_actions()

    def append_message(self, msg: Message) -> MessageWidget:
        widget = self._append(msg)
        self._update_actions()
        return widget

    def set_generating(self, generating: bool) -> None:
        self.generating = generating
        self._update_actions()

    # the live answer -----------------------------------------------------------
    def start_live(self, placeholder: Message, text: str = "") -> None:
        """Append (or reuse, if it is the last message) the widget the answer streams into."""
        if self.widgets and self.widgets[-1].message == placeholder:
            self.live.attach(self.widgets[-1], text)
        else:
            self.live.attach(self.append_message(placeholder), text)
        self._follow = True
        self.scroll_to_bottom()

    def append_live_text(self, text: str) -> None:
        self.live.append(text)

    def finish_live(self) -> None:
        """Render what arrived since the last render, then stop streaming."""
        self.live.finish()

    def stop_live(self) -> None:
        self.live.stop()

    @property
    def live_widget(self) -> MessageWidget | None:
        return self.live.widget

    def show_loading(self, model: str, fraction: float | None) -> None:
        """The live answer waits for its model to load (None: loaded or not loading)."""
        if self.live.widget is not None:
            self.live.widget.show_loading(model, fraction)

    # scrolling -----------------------------------------------------------------
    def scroll_to_bottom(self) -> None:
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())

    def _on_range_changed(self, _minimum: int, maximum: int) -> None:
        if self._anchor_from_bottom is not None:
            self.verticalScrollBar().setValue(maximum - self._anchor_from_bottom)
            self._anchor_from_bottom = None
        elif self._follow:
            self.verticalScrollBar().setValue(maximum)

    def _on_scrolled(self, value: int) -> None:
        self._follow = value >= self.verticalScrollBar().maximum() - FOLLOW_SLACK_PX

    # internals -----------------------------------------------------------------
    def _create(self, msg: Message) -> MessageWidget:
        # Imported with the first message: the Markdown and text-layout code (and the Qt
        # classes behind it) isn't needed to show an empty conversation.
        from app.ui.chat.message_widget import MessageWidget

        widget = MessageWidget(msg, self._canvas)
        widget.resend_requested.connect(self.resend_requested)
        widget.regenerate_requested.connect(self.regenerate_requested)
        widget.fork_requested.connect(self.fork_requested)
        widget.export_requested.connect(self.export_requested)
        widget.delete_requested.connect(self.delete_requested)
        return widget

    def _append(self, msg: Message) -> MessageWidget:
        widget = self._create(msg)
        self.widgets.append(widget)
        self._column.insertWidget(self._first_message_row() + len(self.widgets) - 1, widget)
        self.empty_label.hide()
        return widget

    def _first_message_row(self) -> int:
        return 2  # after the "earlier" button and the empty-state text

    def _update_earlier_button(self) -> None:
        count = self.hidden_count
        noun = "message" if count == 1 else "messages"
        self.earlier_button.setText(f"Show {min(count, PAGE)} earlier {noun} ({count} hidden)")
        self.earlier_button.setVisible(count > 0 and not self.filling)

    def _update_actions(self) -> None:
        last = len(self.widgets) - 1
        for index, widget in enumerate(self.widgets):
            msg = widget.message
            saved = msg is not None and msg.id > 0
            widget.set_actions(
                can_edit=saved and not self.generating,
                can_regenerate=(
                    index == last
                    and saved
                    and not self.generating
                    and msg is not None
                    and msg.outcome != Outcome.STREAMING
                ),
            )

