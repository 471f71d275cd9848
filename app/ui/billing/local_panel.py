"""Local cost settings: electricity price, device wattage, amortisation, comparison model.

Signals:
    settings_changed(): saved (applies to requests from now on; history keeps its cost)
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFormLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from app.core.billing.costs import load_local_settings, save_local_settings
from app.core.foundation.errors import ParleyError

if TYPE_CHECKING:
    from app.core.foundation.settings import Settings

NOTE = (
    "Local answers are costed from the energy they used: measured by NVML (NVIDIA) or RAPL "
    "(Linux CPUs) where readable, otherwise the wattage below times the answer's duration. "
    "New prices apply to new requests; past requests keep the cost they had."
)


class LocalCostsPanel(QWidget):
    settings_changed = Signal()

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.per_kwh = QLineEdit()
        self.watts = QLineEdit()
        self.hardware_price = QLineEdit()
        self.hardware_hours = QLineEdit()
        self.currency = QLineEdit()
        self.compare_provider = QLineEdit()
        self.compare_model = QLineEdit()
        self.save = QPushButton("Save")
        self.message = QLabel()
        self.message.setWordWrap(True)
        note = QLabel(NOTE)
        note.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Electricity price per kWh", self.per_kwh)
        form.addRow("Currency", self.currency)
        form.addRow("Device draw (W) when not measured", self.watts)
        form.addRow("Hardware price (0: off)", self.hardware_price)
        form.addRow("Hardware lifetime (hours)", self.hardware_hours)
        form.addRow("Compare with provider", self.compare_provider)
        form.addRow("Compare with model", self.compare_model)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addLayout(form)
        layout.addWidget(self.save)
        layout.addWidget(self.message)
        layout.addStretch(1)
        self.save.clicked.connect(self.save_settings)
        self.reload()

    def reload(self) -> None:
        conf = load_local_settings(self.settings)
        self.per_kwh.setText(f"{conf.electricity_per_kwh:g}")
        self.watts.setText(f"{conf.device_watts:g}")
        self.hardware_price.setText(f"{conf.hardware_price:g}")
        self.hardware_hours.setText(f"{conf.hardware_hours:g}")
        self.currency.setText(conf.currency)
        self.compare_provider.setText(conf.compare_provider)
        self.compare_model.setText(conf.compare_model)

    def save_settings(self) -> None:
        try:
            conf = replace(
                load_local_settings(self.settings),
                electricity_per_kwh=_number(self.per_kwh.text(), "electricity price"),
                device_watts=_number(self.watts.text(), "device wattage"),
                hardware_price=_number(self.hardware_price.text(), "hardware price"),
                hardware_hours=_number(self.hardware_hours.text(), "hardware lifetime"),
                currency=self.currency.text().strip().upper(),
                compare_provider=self.compare_provider.text().strip(),
                compare_model=self.compare_model.text().strip(),
            )
            save_local_settings(self.settings, conf)
        except ParleyError as exc:
            self.message.setText(str(exc))
            return
        self.message.setText("Saved. New local answers use these costs.")
        self.settings_changed.emit()


def _number(text: str, what: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise ParleyError(f"The {what} '{text}' is not a number.", "Use e.g. 0.25.") from None
