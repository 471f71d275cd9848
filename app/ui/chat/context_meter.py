"""The context meter under the message box: the draft plus the history that will be sent,
against the target's context length.

Counted on the "io" lane once typing pauses, like the cost line beside it
(`cost_preview`): exact with the loaded local model's tokenizer or Mistral's
Tekken, "≈" otherwise; amber when older turns will be left out to fit. It
also carries the target's refusal of attached images, shown before sending.
Stale results are dropped.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal

from app.core.foundation.errors import ParleyError
from app.ui.chat.composer_figure import ComposerFigure
from app.ui.locale_format import number

if TYPE_CHECKING:
    import threading

    from app.core.chat.service import ContextUsage
    from app.workers.jobs import ProgressFn



def meter_text(usage: ContextUsage) -> str:
    approx = "" if usage.exact else "≈"
    share = usage.tokens / usage.context_length if usage.context_length else 0.0
    return (f"Context: {approx}{number(usage.tokens)} / {number(usage.context_length)} tokens "
            f"({number(share * 100)} %)")  # fmt: skip


def meter_tip(usage: ContextUsage) -> str:
    how = ("counted with the model's tokenizer" if usage.exact else
           "estimated: the exact count needs the model's tokenizer (load the model)")  # fmt: skip
    tip = f"The history and your draft, {how}."
    if usage.will_trim:
        tip += (" That is more than fits with room for the answer: the oldest turns will be "
                "left out.")  # fmt: skip
    return tip


class ContextMeter(ComposerFigure):
    """Keeps the composer's context meter up to date.

    Signals:
        updated(usage): a fresh count was shown
    """

    updated = Signal(object)

    last_usage: ContextUsage | None = None  # the newest figure shown

    def schedule(self) -> None:
        self._job_id = 0  # a count already under way is for an older draft: drop it
        self.timer.start()

    def update_now(self) -> None:
        if not self.composer.isVisible():
            return  # a hidden or closing window: nothing to show, nothing to count
        try:
            conversation_id, target = self.current()
        except (ParleyError, sqlite3.Error):
            return  # the store closed under a closing window
        if target is None:
            self._job_id = 0
            self.composer.show_meter("")
            return
        text = self.composer.text()
        attachments = tuple(self.composer.attachments)
        ctx = self.ctx

        def work(_cancel: threading.Event, _progress: ProgressFn) -> ContextUsage:
            return ctx.chat.context_usage(conversation_id, text, target, attachments)

        self.submit(work)

    def on_result(self, data: Any) -> None:
        from app.core.chat.service import ContextUsage

        if not isinstance(data, ContextUsage):
            return
        self.last_usage = data
        self.composer.show_meter(meter_text(data), full=data.will_trim, tip=meter_tip(data))
        self.composer.show_attachment_warning(data.images_refused or "")
        self.updated.emit(data)

    def on_error(self, message: str) -> None:
        self.composer.show_meter(f"Context: can't count ({message})")
