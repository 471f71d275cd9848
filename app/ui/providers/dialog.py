"""Settings → Providers: add, edit, test and remove cloud providers; privacy switches.

Anything that may block (keyring, network) runs on a worker lane; the view
drops results from stale jobs.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.foundation.settings import OFFLINE_MODE
from app.core.providers.secrets import PLAINTEXT_FALLBACK
from app.ui.providers.form import ProviderForm
from app.ui.safe_text import plain_label
from app.workers import FunctionJob

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable

    from app.core.context import AppContext
    from app.workers import WorkerPool


class ProvidersDialog(QDialog):
    """Signals:
    providers_changed(): a provider was added, edited or removed, or a privacy switch moved
    """

    providers_changed = Signal()

    def __init__(self, ctx: AppContext, pool: WorkerPool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Providers")
        self.ctx = ctx
        self.pool = pool
        self._jobs: dict[str, int] = {}  # purpose -> newest job id; older results are dropped
        self.list = QListWidget(self)
        self.form = ProviderForm(self)
        self.status = plain_label(QLabel(self))
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.new_button = QPushButton("New", self)
        self.save_button = QPushButton("Save", self)
        self.test_button = QPushButton("Test connection", self)
        self.offers_button = QPushButton("Refresh provider list", self)
        self.remove_button = QPushButton("Remove", self)
        self.offline = QCheckBox("Offline mode: send nothing over the network", self)
        self.plaintext = QCheckBox("Store keys in a plain file when no keyring exists (unsafe)")
        self._build()
        self.refresh()

    # public ------------------------------------------------------------------
    def refresh(self, select: str | None = None) -> None:
        self.list.clear()
        for config in self.ctx.providers.configs():
            key = "key stored" if config.has_key else "no key"
            item = QListWidgetItem(f"{config.name} — {config.kind.label} ({key})")
            item.setData(Qt.ItemDataRole.UserRole, config.name)
            self.list.addItem(item)
            if config.name == select:
                self.list.setCurrentItem(item)
        self.offline.setChecked(bool(self.ctx.settings.get(OFFLINE_MODE, False)))
        self.plaintext.setChecked(bool(self.ctx.settings.get(PLAINTEXT_FALLBACK, False)))
        self._update_buttons()

    def selected_name(self) -> str | None:
        item = self.list.currentItem()
        return str(item.data(Qt.ItemDataRole.UserRole)) if item else None

    # actions -------------------------------------------------------------------
    def new_provider(self) -> None:
        self.list.setCurrentRow(-1)
        self.form.clear()
        self.status.clear()
        self._update_buttons()

    def save(self) -> None:
        """Add or update on the GUI thread (SQLite, fast); the key goes via a worker."""
        f = self.form
        name = f.name.text().strip()
        key = f.key.text()
        existing = self.ctx.providers.store.find(name) if not f.name.isEnabled() else None
        try:
            if existing is None:
                config = self.ctx.providers.add(
                    name, f.selected_kind, base_url=f.base_url.text().strip() or None,
                    model=f.model.currentText().strip() or None,
                    hf_provider=f.hf_provider_value() or None,
                )  # fmt: skip
            else:
                config = self.ctx.providers.update(replace(
                    existing, base_url=f.base_url.text().strip(),
                    model=f.model.currentText().strip(), hf_provider=f.hf_provider_value(),
                ))  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - ParleyError text is for the user
            self._show_error(exc)
            return
        f.key.clear()
        self.refresh(select=config.name)
        self.providers_changed.emit()
        if key.strip():
            self.status.setText("Saving the key in the system keyring…")
            self._run("key", lambda _c, _p: self.ctx.providers.set_key(config.name, key),
                      lambda _r: self._key_saved(config.name), lane="io")  # fmt: skip
        else:
            self.status.setText(f"Saved {config.display_name}.")

    def test_connection(self) -> None:
        name = self.selected_name()
        if name is None:
            return
        self.status.setText(f"Testing {name}: sending a real minimal request…")
        self.test_button.setEnabled(False)
        self._run("test", lambda cancel, _p: self.ctx.providers.test(name, cancel),
                  self._tested)  # fmt: skip

    def refresh_offers(self) -> None:
        name = self.selected_name()
        if name is None:
            return
        self.status.setText("Asking the Hugging Face router which providers serve this model…")
        model = self.form.model.currentText().strip() or None
        self._run("offers", lambda _c, _p: self.ctx.providers.offers(name, model),
                  self._offers_loaded)  # fmt: skip

    def remove(self) -> None:
        name = self.selected_name()
        if name is None:
            return
        answer = QMessageBox.question(
            self, "Remove provider", f"Remove {name} and delete its key from the keyring?"
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        self._run("remove", lambda _c, _p: self.ctx.providers.remove(name),
                  lambda _r: self._removed(name), lane="io")  # fmt: skip

    # results -----------------------------------------------------------------------
    def _key_saved(self, name: str) -> None:
        self.refresh(select=name)
        self.status.setText(f"Key for {name} stored ({self.ctx.providers.keys.backend_name()}).")
        self.providers_changed.emit()

    def _tested(self, report: Any) -> None:
        self.test_button.setEnabled(True)
        text = report.summary
        if report.models:
            text += f"\nModels: {', '.join(report.models[:8])}"
            name = self.selected_name()
            if name:
                self.form.load(self.ctx.providers.get(name))
        self.status.setText(text)

    def _offers_loaded(self, offers: Any) -> None:
        self.form.show_offers(list(offers))
        self.status.setText(f"{len(offers)} providers serve this model." if offers
                            else "The router lists no providers for this model.")  # fmt: skip

    def _removed(self, name: str) -> None:
        self.refresh()
        self.new_provider()
        self.status.setText(f"Removed {name} and its key.")
        self.providers_changed.emit()

    # plumbing --------------------------------------------------------------------------
    def _run(
        self,
        purpose: str,
        fn: Callable[[threading.Event, Callable[[int, int], None]], Any],
        on_done: Callable[[Any], None],
        lane: str = "net",
    ) -> None:
        job = FunctionJob(fn)
        self._jobs[purpose] = job.job_id

        def finished(job_id: int, result: Any) -> None:
            if self._jobs.get(purpose) == job_id:
                on_done(result)

        def failed(job_id: int, message: str) -> None:
            if self._jobs.get(purpose) == job_id:
                self.test_button.setEnabled(self.selected_name() is not None)
                self.status.setText(message)

        job.finished.connect(finished)
        job.failed.connect(failed)
        self.pool.submit(job, lane)

    def _show_error(self, exc: Exception) -> None:
        from app.core.foundation.errors import ParleyError

        self.status.setText(str(exc) if isinstance(exc, ParleyError) else
                            "Something went wrong. The details are in Parley's log.")  # fmt: skip

    def _on_selection(self) -> None:
        name = self.selected_name()
        if name is not None:
            self.form.load(self.ctx.providers.get(name))
            self.status.clear()
        self._update_buttons()

    def _update_buttons(self) -> None:
        selected = self.selected_name() is not None
        self.test_button.setEnabled(selected)
        self.remove_button.setEnabled(selected)
        hf = selected and self.ctx.providers.get(str(self.selected_name())).kind.hf_router
        self.offers_button.setVisible(hf)

    def _on_offline_toggled(self, checked: bool) -> None:
        self.ctx.settings.set(OFFLINE_MODE, checked)
        self.providers_changed.emit()

    def _on_plaintext_toggled(self, checked: bool) -> None:
        if checked and not self.ctx.settings.get(PLAINTEXT_FALLBACK, False):
            from app.ui.privacy import confirm_plaintext_keys

            if not confirm_plaintext_keys(self):
                self.plaintext.setChecked(False)
                return
        self.ctx.settings.set(PLAINTEXT_FALLBACK, checked)

    def _build(self) -> None:
        buttons = QHBoxLayout()
        for b in (self.new_button, self.save_button, self.test_button, self.offers_button,
                  self.remove_button):  # fmt: skip
            buttons.addWidget(b)
        right = QVBoxLayout()
        right.addWidget(self.form)
        right.addLayout(buttons)
        right.addWidget(self.status)
        right.addStretch(1)
        top = QHBoxLayout()
        top.addWidget(self.list, 1)
        top.addLayout(right, 2)
        privacy = QGroupBox("Privacy", self)
        privacy_layout = QVBoxLayout(privacy)
        privacy_layout.addWidget(self.offline)
        privacy_layout.addWidget(self.plaintext)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(privacy)
        self.list.currentItemChanged.connect(lambda *_: self._on_selection())
        self.new_button.clicked.connect(self.new_provider)
        self.save_button.clicked.connect(self.save)
        self.test_button.clicked.connect(self.test_connection)
        self.offers_button.clicked.connect(self.refresh_offers)
        self.remove_button.clicked.connect(self.remove)
        self.offline.toggled.connect(self._on_offline_toggled)
        self.plaintext.toggled.connect(self._on_plaintext_toggled)
        self.resize(760, 460)


def open_providers_dialog(
    ctx: AppContext, pool: WorkerPool, parent: QWidget | None = None
) -> ProvidersDialog:
    """Show the Providers dialog (non-modal); connect `providers_changed` to refresh pickers."""
    dialog = ProvidersDialog(ctx, pool, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    dialog.raise_()
    return dialog
