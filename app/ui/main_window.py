"""The main window: Chat · Models · Billing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import QMainWindow, QTabWidget, QVBoxLayout, QWidget

from app import APP_NAME
from app.ui.chat import ChatTab
from app.ui.gateway import GatewayController, GatewayIndicator
from app.workers import FunctionJob

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable

    from app.core.context import AppContext
    from app.ui.billing import BillingTab
    from app.ui.models import ModelsTab
    from app.workers import WorkerPool
    from app.workers.jobs import ProgressFn

MODELS, BILLING = 1, 2
PRICE_REFRESH_DELAY_MS = 3000
CHART_PRELOAD_DELAY_MS = 4000  # after start-up and the price refresh have settled


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
        self.chat_tab = ChatTab(ctx, pool, self)
        self._models = LazyTab(self._build_models, self)
        self._billing = LazyTab(self._build_billing, self)
        self.tabs.addTab(self.chat_tab, "Chat")
        self.tabs.addTab(self._models, "Models")
        self.tabs.addTab(self._billing, "Billing")
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self.setCentralWidget(self.tabs)
        for index in range(3):
            QShortcut(QKeySequence(f"Ctrl+{index + 1}"), self, self._tab_switcher(index))
        self.gateway = GatewayController(ctx, pool, self)
        self.gateway_indicator = GatewayIndicator(self.gateway, self)
        self.statusBar().addPermanentWidget(self.gateway_indicator)
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(f"&About {APP_NAME}…", self.show_about)
        self._first_shown = False
        # Owned by the window, so a window closed before it fires never refreshes.
        self._price_refresh = QTimer(self, singleShot=True, interval=PRICE_REFRESH_DELAY_MS)
        self._price_refresh.timeout.connect(self.refresh_prices_daily)
        # pyqtgraph's import (~0.4-0.6 s) on a worker once start-up is over, so the first
        # open of the Billing tab only draws (issue 14).
        self._chart_preload = QTimer(self, singleShot=True, interval=CHART_PRELOAD_DELAY_MS)
        self._chart_preload.timeout.connect(self._preload_charts)

    @property
    def models_tab(self) -> ModelsTab:
        return self._models.ensure_built()  # type: ignore[return-value]

    @property
    def billing_tab(self) -> BillingTab:
        return self._billing.ensure_built()  # type: ignore[return-value]

    def _build_models(self) -> QWidget:
        from app.ui.models import ModelsTab

        return ModelsTab(self.ctx, self.pool)

    def _build_billing(self) -> QWidget:
        from app.ui.billing import BillingTab

        tab = BillingTab(self.ctx, self.pool)
        tab.conversation_open_requested.connect(self.open_conversation)
        return tab

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
        self.chat_tab.focus_composer()

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
            # After the window is up, so neither delays start-up.
            QTimer.singleShot(0, self._offer_first_run)
            QTimer.singleShot(0, self.gateway.start_if_enabled)
            self._price_refresh.start()
            self._chart_preload.start()

    def _preload_charts(self) -> None:
        from app.ui.billing.charts import preload_pyqtgraph

        preload_pyqtgraph(self.pool)

    def _offer_first_run(self) -> None:
        if self.ctx.catalog.list():
            return  # the usual case: a model is installed, nothing to offer or import
        from app.ui.first_run import offer_first_run

        if (dialog := offer_first_run(self.ctx, self.pool, self)) is not None:
            dialog.model_installed.connect(self._on_model_installed)

    def refresh_prices_daily(self) -> FunctionJob | None:
        """Once a day, for users with an HF provider: the router's prices (issue 6)."""
        from app.core.billing.costs import reprice_unpriced
        from app.core.billing.hf_prices import refresh_daily
        from app.core.foundation.settings import OFFLINE_MODE
        from app.core.providers import ProviderKind

        ctx = self.ctx
        routers = [c.base_url for c in ctx.provider_store.list() if c.kind is ProviderKind.HF]
        offline = bool(ctx.settings.get(OFFLINE_MODE, False))
        if offline or not routers:
            return None

        def work(_cancel: threading.Event, _progress: ProgressFn) -> int:
            if refresh_daily(ctx.ledger.prices, ctx.settings, routers, offline=offline):
                return reprice_unpriced(ctx.db, ctx.ledger.prices)
            return 0

        return self.pool.submit(FunctionJob(work), lane="net")  # type: ignore[return-value]

    def _on_model_installed(self, _path: str) -> None:
        self.chat_tab.refresh()
        if self._models.content is not None:
            self._models.refresh()

    def closeEvent(self, event: QCloseEvent) -> None:
        # Stop generation (the partial answer is saved as `stopped`) and pause downloads
        # (they resume at the next start).
        self._price_refresh.stop()
        self._chart_preload.stop()
        self.gateway.shutdown()
        self.chat_tab.shutdown()
        if self._models.content is not None:
            self.models_tab.shutdown()
        self.pool.shutdown()
        super().closeEvent(event)
