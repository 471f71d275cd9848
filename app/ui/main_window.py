"""The main window: Chat · Models · Billing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QMainWindow, QTabWidget

from app import APP_NAME
from app.ui.billing import BillingTab
from app.ui.chat import ChatTab
from app.ui.models import ModelsTab

if TYPE_CHECKING:
    from collections.abc import Callable

    from app.core.context import AppContext
    from app.workers import WorkerPool


class MainWindow(QMainWindow):
    def __init__(self, ctx: AppContext, pool: WorkerPool) -> None:
        super().__init__()
        self.ctx = ctx
        self.pool = pool
        self.setWindowTitle(APP_NAME)
        self.resize(1200, 800)
        self.setMinimumSize(720, 480)
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.chat_tab = ChatTab(ctx, pool, self)
        self.models_tab = ModelsTab(ctx, pool, self)
        self.billing_tab = BillingTab(ctx, pool, self)
        self.tabs.addTab(self.chat_tab, "Chat")
        self.tabs.addTab(self.models_tab, "Models")
        self.tabs.addTab(self.billing_tab, "Billing")
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self.setCentralWidget(self.tabs)
        for index in range(3):
            QShortcut(QKeySequence(f"Ctrl+{index + 1}"), self, self._tab_switcher(index))

    def _tab_switcher(self, index: int) -> Callable[[], None]:
        return lambda: self.tabs.setCurrentIndex(index)

    def _on_tab_changed(self, index: int) -> None:
        widget = self.tabs.widget(index)
        refresh = getattr(widget, "refresh", None)
        if callable(refresh):
            refresh()

    def closeEvent(self, event: QCloseEvent) -> None:
        # Stop generation; the chat service saves the partial answer as `stopped`.
        self.chat_tab.shutdown()
        self.pool.shutdown()
        super().closeEvent(event)
