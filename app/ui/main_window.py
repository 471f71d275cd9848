"""The main window: Chat · Models · Billing, menus built from QActions with the platform's
standard shortcuts, Preferences, a status bar with the loaded model, and the window's size,
position, splitters and last tab restored at start (saved when it closes, Ctrl+Q included).
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMainWindow,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app import APP_NAME
from app.core.foundation.settings import WINDOW_STATE
from app.ui.chat import ChatTab
from app.ui.gateway import GatewayController, GatewayIndicator
from app.ui.locale_format import number
from app.ui.shortcuts import KeyMap
from app.workers import FunctionJob
from app.workers.downloads import DownloadManager

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable, Iterable
    from pathlib import Path

    from app.core.context import AppContext
    from app.ui.billing import BillingTab
    from app.ui.models import ModelsTab
    from app.ui.preferences import PreferencesDialog
    from app.ui.shortcuts import Key
    from app.workers import WorkerPool
    from app.workers.jobs import ProgressFn

MODELS, BILLING = 1, 2
PRICE_REFRESH_DELAY_MS = 3000
BACKUP_DELAY_MS = 20_000  # the daily backup waits until start-up and first clicks are over


class LazyTab(QWidget):
    """A tab whose real content is built (and its modules imported) when first shown.

    Start-up pays only for the Chat tab; the others build in a few milliseconds on
    their first click.
    """

    def __init__(self, build: Callable[[], QWidget], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._build = build
        self.content: QWidget | None = None
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)

    def ensure_built(self) -> QWidget:
        if self.content is None:
            self.content = self._build()
            self._layout.addWidget(self.content)
        return self.content

    def refresh(self) -> None:
        refresh = getattr(self.ensure_built(), "refresh", None)
        if callable(refresh):
            refresh()


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
        # Downloads belong to the window, so they resume at start, Models tab or not.
        self.downloads = DownloadManager(ctx, pool, self)
        self.downloads.download_finished.connect(self._on_model_installed)
        self.chat_tab = ChatTab(ctx, pool, self)
        self._models = LazyTab(self._build_models, self)
        self._billing = LazyTab(self._build_billing, self)
        self.tabs.addTab(self.chat_tab, "Chat")
        self.tabs.addTab(self._models, "Models")
        self.tabs.addTab(self._billing, "Billing")
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self.setCentralWidget(self.tabs)
        self.preferences: PreferencesDialog | None = None
        self.actions_by_name: dict[str, QAction] = {}
        self._keys = KeyMap()
        self.gateway = GatewayController(ctx, pool, self)
        self._build_menus()
        self._build_status_bar()
        self.chat_tab.status_message.connect(self.show_status)
        self.chat_tab.model_changed.connect(self.update_model_status)
        self.restore_state()
        self._first_shown = False
        # Owned by the window, so a window closed before it fires never refreshes.
        self._price_refresh = QTimer(self, singleShot=True, interval=PRICE_REFRESH_DELAY_MS)
        self._price_refresh.timeout.connect(self.refresh_prices_daily)
        self._backup_timer = QTimer(self, singleShot=True, interval=BACKUP_DELAY_MS)
        self._backup_timer.timeout.connect(self.back_up_daily)
        # pyqtgraph's import (~0.4-0.6 s) on a worker once start-up is over, so the first
        # open of the Billing tab only draws (issue 14).

    @property
    def models_tab(self) -> ModelsTab:
        return self._models.ensure_built()  # type: ignore[return-value]

    @property
    def billing_tab(self) -> BillingTab:
        return self._billing.ensure_built()  # type: ignore[return-value]

    def _build_models(self) -> QWidget:
        from app.ui.models import ModelsTab

        return ModelsTab(self.ctx, self.pool, downloads=self.downloads)

    def _build_billing(self) -> QWidget:
        from app.ui.billing import BillingTab

        tab = BillingTab(self.ctx, self.pool)
        tab.conversation_open_requested.connect(self.open_conversation)
        return tab

    def _tab_switcher(self, index: int) -> Callable[[], None]:
        return lambda: self.tabs.setCurrentIndex(index)

    # menus -----------------------------------------------------------------------
    def _action(
        self,
        name: str,
        text: str,
        slot: Callable[[], object],
        keys: Iterable[Key] = (),
        role: QAction.MenuRole = QAction.MenuRole.NoRole,
    ) -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        action.setShortcuts(self._keys.claim(name, keys))
        action.setMenuRole(role)
        action.triggered.connect(slot)
        self.addAction(action)  # shortcuts work with the menu bar hidden, too
        self.actions_by_name[name] = action
        return action

    def _build_menus(self) -> None:
        std = QKeySequence.StandardKey
        chat = self.chat_tab
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(self._action("new_conversation", "&New conversation",
                                         self._new_conversation, [std.New]))
        file_menu.addAction(self._action("import_conversation", "&Import conversation…",
                                         chat.import_conversation))
        file_menu.addAction(self._action("export_conversation", "&Export conversation…",
                                         lambda: chat.export_conversation(None),
                                         ["Ctrl+Shift+E"]))
        file_menu.addSeparator()
        # The platform's own keys, then ours where it has none (Linux binds no Preferences
        # key and Windows no Quit key); a key both give is held once (app.ui.shortcuts).
        file_menu.addAction(self._action("preferences", "&Preferences…", self.show_preferences,
                                         [std.Preferences, "Ctrl+,"],
                                         QAction.MenuRole.PreferencesRole))  # fmt: skip
        file_menu.addSeparator()
        file_menu.addAction(self._action("quit", "&Quit", self.quit, [std.Quit, "Ctrl+Q"],
                                         QAction.MenuRole.QuitRole))  # fmt: skip
        edit_menu = self.menuBar().addMenu("&Edit")
        edit_menu.addAction(self._action("copy", "&Copy", self.copy, [std.Copy]))
        edit_menu.addAction(self._action("find", "&Find conversations", self.find_conversations,
                                         [std.Find]))
        view_menu = self.menuBar().addMenu("&View")
        for index, title in enumerate(("&Chat", "&Models", "&Billing")):
            view_menu.addAction(self._action(f"tab_{index}", title, self._tab_switcher(index),
                                             [f"Ctrl+{index + 1}"]))
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(self._action("about", f"&About {APP_NAME}…", self.show_about,
                                         role=QAction.MenuRole.AboutRole))  # fmt: skip

    def _new_conversation(self) -> None:
        self.tabs.setCurrentWidget(self.chat_tab)
        self.chat_tab.new_conversation()

    def copy(self) -> None:
        """Copy from whatever has the focus (a message, a code block, a field)."""
        focused = QApplication.focusWidget()
        copy = getattr(focused, "copy", None)
        if callable(copy):
            copy()

    def find_conversations(self) -> None:
        self.tabs.setCurrentWidget(self.chat_tab)
        search = self.chat_tab.conversations.search
        search.setFocus()
        search.selectAll()

    def quit(self) -> None:
        """Ctrl+Q: close the window (its state is saved), which ends the app."""
        self.close()
        app = QApplication.instance()
        if app is not None and not self.isVisible():
            app.quit()

    def show_preferences(self) -> None:
        if self.preferences is None:
            from app.ui.preferences import PreferencesDialog

            self.preferences = PreferencesDialog(self.ctx, self.pool, self, self.gateway)
            self.preferences.settings_changed.connect(self.chat_tab.refresh)
            self.preferences.providers_requested.connect(self.chat_tab.open_providers)
        else:
            self.preferences.reload()
        self.preferences.show()
        self.preferences.raise_()
        self.preferences.activateWindow()

    # status bar --------------------------------------------------------------------
    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.model_status = QLabel(self)
        self.model_status.setObjectName("modelStatus")
        # Left side, not permanent: the gateway's switch and address sit on the right.
        bar.addWidget(self.model_status)
        self.gateway_indicator = GatewayIndicator(self.gateway, self)
        bar.addPermanentWidget(self.gateway_indicator)
        self.update_model_status()

    def update_model_status(self) -> None:
        loaded = self.ctx.loaded_model()
        if loaded is None:
            self.model_status.setText("No local model loaded")
            self.model_status.setToolTip("A local model loads with its first message.")
            return
        name, size = loaded
        self.model_status.setText(f"{name} loaded · {number(size / 2**20)} MiB in memory")
        self.model_status.setToolTip("The local model's weights and its context (KV cache).")

    def show_status(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    # window state --------------------------------------------------------------------
    def save_state(self) -> None:
        state = {
            "geometry": base64.b64encode(bytes(self.saveGeometry().data())).decode("ascii"),
            "chat_splitter": base64.b64encode(
                bytes(self.chat_tab.splitter.saveState().data())
            ).decode("ascii"),
            "tab": self.tabs.currentIndex(),
        }
        try:
            self.ctx.settings.set(WINDOW_STATE, state)
        except Exception:
            import logging

            logging.getLogger(__name__).exception("could not save the window state")

    def restore_state(self) -> None:
        state = self.ctx.settings.get(WINDOW_STATE, None)
        if not isinstance(state, dict):
            return
        try:
            if geometry := state.get("geometry"):
                self.restoreGeometry(QByteArray(base64.b64decode(geometry)))
            if splitter := state.get("chat_splitter"):
                self.chat_tab.splitter.restoreState(QByteArray(base64.b64decode(splitter)))
        except (ValueError, TypeError):
            return  # a damaged entry: start with the defaults
        tab = state.get("tab")
        if isinstance(tab, int) and 0 <= tab < self.tabs.count():
            self.tabs.setCurrentIndex(tab)

    def _on_tab_changed(self, index: int) -> None:
        widget = self.tabs.widget(index)
        refresh = getattr(widget, "refresh", None)
        if callable(refresh):
            refresh()

    def open_conversation(self, conversation_id: int) -> None:
        """From a ledger row (Billing) to its conversation in the Chat tab."""
        self.tabs.setCurrentWidget(self.chat_tab)
        self.chat_tab.open_conversation(conversation_id)
        self.chat_tab.focus_composer()

    def bring_forward(self) -> None:
        """A second launch on this data folder: show this window instead."""
        if self.isMinimized():
            self.showNormal()
        self.show()
        self.raise_()
        self.activateWindow()

    def show_about(self) -> None:
        from app.ui.about import AboutDialog

        dialog = AboutDialog(self)
        dialog.exec()
        dialog.deleteLater()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._first_shown:
            self._first_shown = True
            if self.tabs.currentWidget() is self.chat_tab:
                self.chat_tab.focus_composer()  # the window opens ready to type
            # After the window is up, so none of these delays start-up.
            QTimer.singleShot(0, self._offer_first_run)
            QTimer.singleShot(0, self.downloads.resume_all)
            QTimer.singleShot(0, self.gateway.start_if_enabled)
            self._price_refresh.start()
            self._backup_timer.start()

    def _offer_first_run(self) -> None:
        if self.ctx.catalog.list():
            return  # the usual case: a model is installed, nothing to offer or import
        from app.ui.first_run import offer_first_run

        if (dialog := offer_first_run(self.ctx, self.pool, self)) is not None:
            dialog.model_installed.connect(self._on_model_installed)

    def refresh_prices_daily(self) -> FunctionJob | None:
        """Once a day, for users with an HF provider: the router's prices (issue 6)."""
        from app.core.billing.hf_prices import refresh_daily
        from app.core.foundation.settings import OFFLINE_MODE

        ctx = self.ctx
        routers = [c.base_url for c in ctx.provider_store.list() if c.kind.hf_router]
        offline = bool(ctx.settings.get(OFFLINE_MODE, False))
        if offline or not routers:
            return None

        def work(_cancel: threading.Event, _progress: ProgressFn) -> int:
            if refresh_daily(ctx.ledger.prices, ctx.settings, routers, offline=offline):
                return ctx.reprice_unpriced()
            return 0

        return self.pool.submit(FunctionJob(work), lane="net")  # type: ignore[return-value]

    def back_up_daily(self) -> FunctionJob | None:
        """A rolling backup of the database, at most once a day, on a file lane."""
        from app.core.foundation import backups

        db_path = self.ctx.backup_due()
        if db_path is None:
            return None

        def work(_cancel: threading.Event, _progress: ProgressFn) -> Path | None:
            return backups.make_backup(db_path)

        return self.pool.submit(FunctionJob(work), lane="io")  # type: ignore[return-value]

    def _on_model_installed(self, _what: object) -> None:
        self.chat_tab.refresh()
        if self._models.content is not None:
            self._models.refresh()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_state()
        # Stop generation (the partial answer is saved as `stopped`) and pause downloads
        # (they resume at the next start).
        self._price_refresh.stop()
        self._backup_timer.stop()
        self.gateway.shutdown()
        self.chat_tab.shutdown()
        self.downloads.shutdown()
        self.pool.shutdown()
        super().closeEvent(event)
