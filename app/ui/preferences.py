"""Preferences (Ctrl+, / Cmd+,): every app-wide setting in one window.

Privacy (offline mode, the keyring's plain-file fallback), the default target
for new conversations, local costs (electricity price, hardware cost), the
gateway server, and where Parley keeps its data. Conversation settings stay
with each conversation; providers keep their own dialog (linked from here).

The gateway server's section is the window's own switch (issue 16's
`GatewayIndicator` on the same controller as the status bar), so both always
agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.core.foundation.settings import DEFAULT_TARGET, OFFLINE_MODE
from app.core.providers.secrets import PLAINTEXT_FALLBACK

if TYPE_CHECKING:
    from app.core.context import AppContext
    from app.ui.gateway import GatewayController
    from app.workers import WorkerPool

TITLE = "Preferences"
GATEWAY_SECTION = "Gateway server"


class PreferencesDialog(QDialog):
    """Signals:
    settings_changed: a setting that other views show was changed
    providers_requested: the user wants the Providers dialog
    """

    settings_changed = Signal()
    providers_requested = Signal()

    def __init__(
        self,
        ctx: AppContext,
        pool: WorkerPool,
        parent: QWidget | None = None,
        gateway: GatewayController | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(TITLE)
        self.setObjectName("preferences")
        self.ctx = ctx
        self.pool = pool
        self.gateway = gateway
        self.offline = QCheckBox("Offline mode: send nothing over the network", self)
        self.plaintext = QCheckBox("Store API keys in a plain file when no keyring exists "
                                   "(unsafe)", self)  # fmt: skip
        self.default_target = QComboBox(self)
        self.default_target.setObjectName("defaultTarget")
        self.data_folder = QLabel(str(ctx.root), self)
        self.data_folder.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.open_folder_button = QPushButton("Open folder", self)
        self.open_folder_button.clicked.connect(self.open_data_folder)
        self.sections: dict[str, QWidget] = {}
        self._build()
        self.reload()
        self.offline.toggled.connect(self._on_offline)
        self.plaintext.toggled.connect(self._on_plaintext)
        self.default_target.activated.connect(self._on_default_target)

    def _build(self) -> None:
        from app.ui.billing.local_panel import LocalCostsPanel

        content = QWidget(self)
        column = QVBoxLayout(content)
        privacy = QGroupBox("Privacy", content)
        box = QVBoxLayout(privacy)
        box.addWidget(self.offline)
        box.addWidget(self.plaintext)
        providers = QPushButton("Providers and API keys…", privacy)
        providers.clicked.connect(self.providers_requested)
        box.addWidget(providers, 0, Qt.AlignmentFlag.AlignLeft)
        column.addWidget(privacy)
        chat = QGroupBox("Chat", content)
        form = QFormLayout(chat)
        form.addRow("New conversations use", self.default_target)
        column.addWidget(chat)
        costs = QGroupBox("Local costs", content)
        costs_box = QVBoxLayout(costs)
        self.costs = LocalCostsPanel(self.ctx.settings, costs)
        self.costs.settings_changed.connect(self.settings_changed)
        costs_box.addWidget(self.costs)
        column.addWidget(costs)
        column.addWidget(self._gateway_section(content))
        data = QGroupBox("Data", content)
        data_row = QHBoxLayout(data)
        data_row.addWidget(QLabel("Conversations, the ledger and models live in", data))
        data_row.addWidget(self.data_folder, 1)
        data_row.addWidget(self.open_folder_button)
        column.addWidget(data)
        column.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(content)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll, 1)
        layout.addWidget(buttons)
        self.resize(640, 720)

    def _gateway_section(self, parent: QWidget) -> QGroupBox:
        group = QGroupBox(GATEWAY_SECTION, parent)
        box = QVBoxLayout(group)
        widget: QWidget
        if self.gateway is not None:
            from app.ui.gateway import GatewayIndicator

            widget = GatewayIndicator(self.gateway, group)
            hint = QLabel("An OpenAI-compatible API for other apps on this machine. Click "
                          "its address for the access token and the latest requests.",
                          group)  # fmt: skip
            hint.setWordWrap(True)
            box.addWidget(hint)
        else:  # a Preferences opened without a window (never in the app)
            widget = QLabel("The gateway is switched from the main window's status bar.", group)
        box.addWidget(widget, 0, Qt.AlignmentFlag.AlignLeft)
        self.sections[GATEWAY_SECTION] = widget
        return group

    def reload(self) -> None:
        settings = self.ctx.settings
        for box, key in ((self.offline, OFFLINE_MODE), (self.plaintext, PLAINTEXT_FALLBACK)):
            box.blockSignals(True)
            box.setChecked(bool(settings.get(key, False)))
            box.blockSignals(False)
        chosen = str(settings.get(DEFAULT_TARGET, "") or "")
        self.default_target.clear()
        active = self.ctx.catalog.active()
        self.default_target.addItem(
            f"The active local model ({active.name})" if active else "The active local model", ""
        )
        for option in self.ctx.target_options():
            if option.available:
                self.default_target.addItem(f"{option.group}: {option.label}", str(option.target))
        index = self.default_target.findData(chosen)
        self.default_target.setCurrentIndex(max(0, index))
        self.costs.reload()

    def open_data_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.ctx.root)))

    def _on_offline(self, checked: bool) -> None:
        self.ctx.settings.set(OFFLINE_MODE, checked)
        self.settings_changed.emit()

    def _on_plaintext(self, checked: bool) -> None:
        if checked and not self.ctx.settings.get(PLAINTEXT_FALLBACK, False):
            from app.ui.privacy import confirm_plaintext_keys

            if not confirm_plaintext_keys(self):
                self.plaintext.blockSignals(True)
                self.plaintext.setChecked(False)
                self.plaintext.blockSignals(False)
                return
        self.ctx.settings.set(PLAINTEXT_FALLBACK, checked)

    def _on_default_target(self, index: int) -> None:
        self.ctx.settings.set(DEFAULT_TARGET, str(self.default_target.itemData(index) or ""))
        self.settings_changed.emit()
