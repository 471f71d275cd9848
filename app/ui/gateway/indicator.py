"""The status bar's gateway switch: on/off, the address, how many requests it served."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QPushButton, QWidget

if TYPE_CHECKING:
    from app.core.gateway.service import Served
    from app.ui.gateway.controller import GatewayController


class GatewayIndicator(QWidget):
    def __init__(self, controller: GatewayController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.switch = QCheckBox("Gateway", self)
        self.switch.setToolTip("Serve an OpenAI-compatible API that routes, bills and keeps "
                               "your keys, for other apps on this machine")  # fmt: skip
        self.details = QPushButton(self)
        self.details.setFlat(True)
        self.details.setToolTip("Address, access token and the latest requests")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 6, 0)
        layout.setSpacing(4)
        layout.addWidget(self.switch)
        layout.addWidget(self.details)
        self.switch.toggled.connect(self._on_toggled)
        self.details.clicked.connect(self.open_dialog)
        controller.state_changed.connect(self._on_state)
        controller.request_served.connect(self._on_served)
        controller.failed.connect(self._on_failed)
        controller.restarted.connect(self._on_restarted)
        self._on_state(controller.running, controller.address)

    def _on_toggled(self, on: bool) -> None:
        self.switch.setEnabled(False)
        self.details.setText("starting…" if on else "stopping…")
        self.controller.set_running(on)

    def _on_state(self, running: bool, address: str) -> None:
        self.switch.blockSignals(True)
        self.switch.setChecked(running)
        self.switch.blockSignals(False)
        self.switch.setEnabled(True)
        self._show_summary()

    def _on_served(self, _served: Served) -> None:
        self._show_summary()

    def _on_failed(self, message: str) -> None:
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.warning(self.window(), "The gateway didn't start", message)

    def _on_restarted(self, message: str) -> None:
        self.details.setToolTip(message)
        from PySide6.QtWidgets import QMainWindow

        window = self.window()
        if isinstance(window, QMainWindow):
            window.statusBar().showMessage(message, 15_000)

    def _show_summary(self) -> None:
        c = self.controller
        if not c.running:
            self.details.setText("off")
            return
        n = c.served_count()
        self.details.setText(f"{c.address} · {n} request{'s' if n != 1 else ''}")

    def open_dialog(self) -> None:
        from app.ui.gateway.dialog import GatewayDialog

        dialog = GatewayDialog(self.controller, self.window())
        dialog.exec()
        dialog.deleteLater()
