"""The main window: Chat · Models · Billing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import QMainWindow, QTabWidget

from app import APP_NAME
from app.ui.about import AboutDialog
from app.ui.billing import BillingTab
from app.ui.chat import ChatTab
from app.ui.first_run import offer_first_run
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
        self.billing_tab.conversation_open_requested.connect(self.open_conversation)
        self.setCentralWidget(self.tabs)
        for index in range(3):
            QShortcut(QKeySequence(f"Ctrl+{index + 1}"), self, self._tab_switcher(index))
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(f"&About {APP_NAME}…", self.show_about)
        self._first_shown = False

    def _tab_switcher(self, index: int) -> Callable[[], None]:
        return lambda: self.tabs.setCurrentIndex(index)

    def _on_tab_changed(self, index: int) -> None:
        widget = self.tabs.widget(index)
        refresh = getattr(widget, "refresh", None)
        if callable(refresh):
            refresh()

    def open_conversation(self, conversation_id: int) -> None:
        """From a ledger row (Billing) to its conversation in the Chat tab."""
        self.tabs.setCurrentWidget(self.chat_tab)
        self.chat_tab.open_conversation(conversation_id)

    def show_about(self) -> None:
        dialog = AboutDialog(self)
        dialog.exec()
        dialog.deleteLater()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._first_shown:
            self._first_shown = True
            # After the window is up, so the offer never delays start-up.
            QTimer.singleShot(0, self._offer_first_run)

    def _offer_first_run(self) -> None:
        if (dialog := offer_first_run(self.ctx, self.pool, self)) is not None:
            dialog.model_installed.connect(self._on_model_installed)

    def _on_model_installed(self, _path: str) -> None:
        for tab in (self.chat_tab, self.models_tab):
            refresh = getattr(tab, "refresh", None)
            if callable(refresh):
                refresh()

    def closeEvent(self, event: QCloseEvent) -> None:
        # Stop generation (the partial answer is saved as `stopped`) and pause downloads
        # (they resume at the next start).
        self.chat_tab.shutdown()
        self.models_tab.shutdown()
        self.pool.shutdown()
        super().closeEvent(event)
