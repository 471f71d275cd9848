"""The gateway's window: the switch, where it listens, the access token, the latest requests."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.ui.locale_format import money
from app.ui.safe_text import plain_tip

if TYPE_CHECKING:
    from app.core.gateway.service import Served
    from app.ui.gateway.controller import GatewayController

COLUMNS = ("Time", "Client", "Model", "Outcome", "Tokens", "Cost", "Why this target")


def _copy_button(text_of: QLineEdit | QLabel, parent: QWidget) -> QPushButton:
    button = QPushButton("Copy", parent)
    button.clicked.connect(lambda: QGuiApplication.clipboard().setText(text_of.text()))
    return button


class GatewayDialog(QDialog):
    def __init__(self, controller: GatewayController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.setWindowTitle("Gateway")
        self.resize(820, 520)
        self.switch = QCheckBox("Serve Parley's OpenAI-compatible API to other apps", self)
        self.host = QLineEdit(controller.host, self)
        self.host.setToolTip("127.0.0.1 keeps it to this machine; another address needs the "
                             "access token to exist first")  # fmt: skip
        self.port = QSpinBox(self)
        self.port.setRange(1, 65535)
        self.port.setValue(controller.port)
        self.address = QLabel(self)
        self.address.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.token = QLineEdit(self)
        self.token.setReadOnly(True)
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText("created the first time the gateway starts")
        self.show_token = QPushButton("Show", self)
        self.show_token.setCheckable(True)
        self.new_token = QPushButton("Revoke and replace", self)
        self.served = QLabel(self)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)

        where = QHBoxLayout()
        where.addWidget(self.host, 1)
        where.addWidget(QLabel(":", self))
        where.addWidget(self.port)
        addr = QHBoxLayout()
        addr.addWidget(self.address, 1)
        addr.addWidget(_copy_button(self.address, self))
        tok = QHBoxLayout()
        tok.addWidget(self.token, 1)
        tok.addWidget(self.show_token)
        tok.addWidget(_copy_button(self.token, self))
        tok.addWidget(self.new_token)
        form = QFormLayout()
        form.addRow("Listen on", where)
        form.addRow("Base URL", addr)
        form.addRow("Access token", tok)
        hint = QLabel(
            "Clients send <code>Authorization: Bearer &lt;token&gt;</code>; the model "
            "<code>auto</code> routes by your policy, <code>local/&lt;name&gt;</code> and "
            "<code>&lt;provider&gt;/&lt;model&gt;</code> go where they say. "
            "<code>X-Parley-Project</code> bills a request to a project.", self)
        hint.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.switch)
        layout.addLayout(form)
        layout.addWidget(hint)
        layout.addWidget(self.served)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)

        self.switch.toggled.connect(self._on_toggled)
        self.show_token.toggled.connect(self._on_show_token)
        self.new_token.clicked.connect(self._replace_token)
        controller.state_changed.connect(self._on_state)
        controller.request_served.connect(self._on_served)
        self._on_state(controller.running, controller.address)
        for served in reversed(controller.recent()):
            self._add_row(served)

    def _on_toggled(self, on: bool) -> None:
        if on:
            self.controller.set_address(self.host.text(), self.port.value())
        self.switch.setEnabled(False)
        self.controller.set_running(on)

    def _on_state(self, running: bool, address: str) -> None:
        self.switch.blockSignals(True)
        self.switch.setChecked(running)
        self.switch.blockSignals(False)
        self.switch.setEnabled(True)
        self.host.setEnabled(not running)
        self.port.setEnabled(not running)
        self.address.setText(address or "not serving")
        self._load_token()
        self._show_count()

    def _load_token(self) -> None:
        tokens = self.controller.ctx.access_tokens
        active = [t for t in tokens.list() if t.label == "default"]
        secret = tokens.secret(active[-1].id) if active else None
        self.token.setText(secret or "")

    def _on_show_token(self, shown: bool) -> None:
        mode = QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password
        self.token.setEchoMode(mode)
        self.show_token.setText("Hide" if shown else "Show")

    def _replace_token(self) -> None:
        answer = QMessageBox.question(
            self, "Replace the access token?",
            "Clients using the current token will get HTTP 401 until you give them the new one.")
        if answer != QMessageBox.StandardButton.Yes:
            return
        tokens = self.controller.ctx.access_tokens
        for token in tokens.list():
            if token.label == "default":
                tokens.revoke(token.id)
        tokens.default()
        self._load_token()

    def _show_count(self) -> None:
        n = self.controller.served_count()
        self.served.setText(f"{n} request{'s' if n != 1 else ''} served since Parley started; "
                            "every one is also on the Billing tab.")  # fmt: skip

    def _on_served(self, served: Served) -> None:
        self._add_row(served)
        self._show_count()

    def _add_row(self, s: Served) -> None:
        self.table.insertRow(0)
        cost = money(s.cost, s.currency)
        cells = (dt.datetime.fromtimestamp(s.at).strftime("%H:%M:%S"), s.client or "",
                 s.model, s.outcome, f"{s.prompt_tokens} + {s.completion_tokens}", cost,
                 s.route or "")  # fmt: skip
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setToolTip(plain_tip(text))  # the client and model names are the caller's
            self.table.setItem(0, column, item)
        while self.table.rowCount() > 50:
            self.table.removeRow(self.table.rowCount() - 1)
