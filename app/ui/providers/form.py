"""The edit form of one provider: kind, base URL, model, HF policy, masked key."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QComboBox, QFormLayout, QLineEdit, QWidget

from app.core.providers import HF_POLICIES, all_kinds, defaults_for, parse_kind

if TYPE_CHECKING:
    from app.core.providers import Kind, ProviderConfig, RouterOffer


class ProviderForm(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = QLineEdit(self)
        self.name.setPlaceholderText("e.g. mistral, hf, my-vllm")
        self.kind = QComboBox(self)
        for kind in all_kinds():  # the table of kinds, in its order
            self.kind.addItem(kind.label, kind.name)
        self.base_url = QLineEdit(self)
        self.model = QComboBox(self)
        self.model.setEditable(True)
        self.hf_provider = QComboBox(self)
        self.hf_provider.setEditable(True)
        self.key = QLineEdit(self)
        self.key.setEchoMode(QLineEdit.EchoMode.Password)  # keys are shown masked only
        layout = QFormLayout(self)
        layout.addRow("Name", self.name)
        layout.addRow("Kind", self.kind)
        layout.addRow("Base URL", self.base_url)
        layout.addRow("Model", self.model)
        layout.addRow("Provider policy", self.hf_provider)
        layout.addRow("API key", self.key)
        self._layout = layout
        self.kind.currentIndexChanged.connect(self._on_kind_changed)
        self.clear()

    @property
    def selected_kind(self) -> Kind:
        return parse_kind(str(self.kind.currentData()))

    def clear(self) -> None:
        self.name.setEnabled(True)
        self.name.clear()
        self.kind.setEnabled(True)
        self.kind.setCurrentIndex(0)
        self._on_kind_changed()
        self.key.clear()
        self.key.setPlaceholderText("paste the key (stored in the system keyring)")

    def load(self, config: ProviderConfig) -> None:
        self.name.setText(config.name)
        self.name.setEnabled(False)  # the name is the keyring user name and the backend name
        self.kind.setCurrentIndex(self.kind.findData(config.kind.name))
        self.kind.setEnabled(False)
        self.base_url.setText(config.base_url)
        self._set_models([config.model, *config.cached_models], config.model)
        self._set_policies([], config.hf_provider)
        self.key.clear()
        self.key.setPlaceholderText(
            "•••••••• stored; type a new key to replace it"
            if config.has_key else "paste the key (stored in the system keyring)"
        )  # fmt: skip

    def show_offers(self, offers: list[RouterOffer]) -> None:
        current = self.hf_provider.currentText()
        self._set_policies(offers, current)

    def _on_kind_changed(self) -> None:
        kind = self.selected_kind
        url, model, policy = defaults_for(kind)
        self.base_url.setText(url)
        self.base_url.setPlaceholderText("https://host/v1" if not url else "")
        self._set_models([model] if model else [], model)
        self._set_policies([], policy)
        hf = kind.hf_router
        self.hf_provider.setEnabled(hf)
        self._layout.setRowVisible(self.hf_provider, hf)

    def _set_models(self, models: list[str], current: str) -> None:
        self.model.clear()
        for m in dict.fromkeys(filter(None, models)):
            self.model.addItem(m)
        self.model.setEditText(current)

    def _set_policies(self, offers: list[RouterOffer], current: str) -> None:
        self.hf_provider.clear()
        for policy in HF_POLICIES:
            self.hf_provider.addItem(policy, policy)
        for offer in offers:  # from the router's GET /v1/models, never a fixed list
            self.hf_provider.addItem(f"{offer.provider} — {offer.summary}", offer.provider)
        index = self.hf_provider.findData(current)
        if index >= 0:
            self.hf_provider.setCurrentIndex(index)
        else:
            self.hf_provider.setEditText(current)

    def hf_provider_value(self) -> str:
        index = self.hf_provider.currentIndex()
        text = self.hf_provider.currentText()
        if index >= 0 and self.hf_provider.itemText(index) == text:
            return str(self.hf_provider.itemData(index))
        return text.strip()
