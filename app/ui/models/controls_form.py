"""One model's load controls, with the fit verdict and speed range updating as they change.

Used by the Models tab (Installed) and the conversation settings of a local conversation.
The estimate is pure arithmetic on the cached GGUF header, so it runs on every change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.foundation.errors import ParleyError
from app.core.local.catalog import header_for
from app.core.local.fit import FitEstimate, ModelShape, Verdict, estimate, speed_range
from app.core.local.model_controls import (
    MAX_BATCH,
    MAX_CONTEXT,
    MAX_THREADS,
    MIN_BATCH,
    MIN_CONTEXT,
    FlashAttention,
    KVCacheType,
    ModelControls,
)

if TYPE_CHECKING:
    from app.core.local.catalog import InstalledModel
    from app.core.local.hardware import Hardware

_AUTO = -1  # the spin boxes' "auto" value


def model_shape(model: InstalledModel) -> ModelShape | None:
    """The model's shape from its (cached) GGUF header; None if unreadable. Reads the file
    the first time: call it from a worker."""
    try:
        return ModelShape.from_header(header_for(model.path), model.size_bytes)
    except ParleyError:
        return None


def _auto_spin(maximum: int, parent: QWidget) -> QSpinBox:
    box = QSpinBox(parent)
    box.setRange(_AUTO, maximum)
    box.setSpecialValueText("auto")
    return box


class ModelControlsForm(QWidget):
    """Signals:
    changed(): a control changed (the verdict below is already updated)
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model: InstalledModel | None = None
        self.shape: ModelShape | None = None
        self.hardware: Hardware | None = None
        self.fit: FitEstimate | None = None
        self.context = QSpinBox(self)
        self.context.setRange(MIN_CONTEXT, MAX_CONTEXT)
        self.context.setSingleStep(1024)
        self.context.setSuffix(" tokens")
        self.context.setGroupSeparatorShown(True)
        self.gpu_layers = _auto_spin(999, self)
        self.gpu_layers.setToolTip("Layers llama.cpp runs on the GPU; auto puts as many as fit.")
        self.threads = _auto_spin(MAX_THREADS, self)
        self.threads.setToolTip("CPU threads; auto uses one per physical core.")
        self.kv_cache = QComboBox(self)
        self.kv_cache.addItems([str(k) for k in KVCacheType])
        self.kv_cache.setToolTip("q8_0 halves the KV cache's memory, q4_0 quarters it; "
                                 "both need flash attention.")  # fmt: skip
        self.flash = QComboBox(self)
        self.flash.addItems([str(f) for f in FlashAttention])
        self.flash.setToolTip("Auto: on when layers run on a GPU or the KV cache is quantized.")
        self.batch = QSpinBox(self)
        self.batch.setRange(MIN_BATCH, MAX_BATCH)
        self.batch.setSingleStep(128)
        self.batch.setSuffix(" tokens")
        self.batch.setToolTip("Tokens per step when reading a prompt: larger is faster on a "
                              "GPU and needs a larger compute buffer.")  # fmt: skip
        self.verdict = QLabel(self)
        self.verdict.setObjectName("fitVerdict")
        self.speed = QLabel(self)
        self.speed.setObjectName("fitSpeed")
        self.explanation = QLabel(self)
        self.explanation.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.explanation.setObjectName("fitExplanation")
        self.explanation.setWordWrap(True)
        # Room for the whole explanation (three lines at most): a layout short of space
        # would otherwise clip a word-wrapped label.
        self.explanation.setMinimumHeight(self.explanation.fontMetrics().lineSpacing() * 3 + 4)
        form = QFormLayout()
        for field in (self.context, self.gpu_layers, self.threads, self.kv_cache, self.flash,
                      self.batch):  # fmt: skip
            field.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        form.addRow("Context length", self.context)
        form.addRow("GPU layers", self.gpu_layers)
        form.addRow("CPU threads", self.threads)
        form.addRow("KV cache", self.kv_cache)
        form.addRow("Flash attention", self.flash)
        form.addRow("Batch size", self.batch)
        form.addRow("Fit", self.verdict)
        form.addRow("Speed", self.speed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addWidget(self.explanation)
        for box in (self.context, self.gpu_layers, self.threads, self.batch):
            box.valueChanged.connect(self._on_changed)
        for combo in (self.kv_cache, self.flash):
            combo.currentIndexChanged.connect(self._on_changed)
        self.set_controls(ModelControls())
        self.verdict.setText("")
        self.setEnabled(False)

    def show_model(self, model: InstalledModel, controls: ModelControls) -> None:
        """Show `model`'s `controls` for editing; the verdict follows once `set_shape` gives
        the model's shape (read off the GUI thread by `model_shape`)."""
        self.model = model
        self.shape = None
        self.fit = None
        trained = model.context_length or MAX_CONTEXT
        self.context.setMaximum(max(MIN_CONTEXT, min(MAX_CONTEXT, trained)))
        self.set_controls(controls)
        self.verdict.setText("reading the model…")
        self.speed.setText("")
        self.explanation.setText("")
        self.setEnabled(True)

    def set_shape(self, shape: ModelShape | None) -> None:
        """The shown model's shape; None when its GGUF header could not be read."""
        self.shape = shape
        if shape is None:
            name = self.model.name if self.model else "The model"
            self.verdict.setText("unknown")
            self.explanation.setText(f"{name}'s GGUF header could not be read.")
            return
        self.gpu_layers.setMaximum(shape.n_layers)
        self.update_fit()

    def set_controls(self, controls: ModelControls) -> None:
        widgets = (self.context, self.gpu_layers, self.threads, self.batch, self.kv_cache,
                   self.flash)  # fmt: skip
        for w in widgets:
            w.blockSignals(True)
        self.context.setValue(controls.context_length)
        self.gpu_layers.setValue(_AUTO if controls.gpu_layers is None else controls.gpu_layers)
        self.threads.setValue(_AUTO if controls.threads is None else controls.threads)
        self.batch.setValue(controls.batch_size)
        self.kv_cache.setCurrentText(str(controls.kv_cache))
        self.flash.setCurrentText(str(controls.flash_attention))
        for w in widgets:
            w.blockSignals(False)
        self.update_fit()

    def set_hardware(self, hw: Hardware) -> None:
        self.hardware = hw
        self.update_fit()

    def controls(self) -> ModelControls:
        """What the form shows; raises `ParleyError` for a combination llama.cpp refuses."""
        gpu, threads = self.gpu_layers.value(), self.threads.value()
        return ModelControls(
            context_length=self.context.value(),
            gpu_layers=None if gpu == _AUTO else gpu,
            threads=None if threads == _AUTO else threads,
            kv_cache=KVCacheType(self.kv_cache.currentText()),
            flash_attention=FlashAttention(self.flash.currentText()),
            batch_size=self.batch.value(),
        ).validated()

    def update_fit(self) -> None:
        if self.shape is None:
            return
        if self.hardware is None:
            self.verdict.setText("detecting hardware…")
            self.speed.setText("")
            return
        try:
            controls = self.controls()
        except ParleyError as exc:
            self.fit = None
            self.verdict.setText("not valid")
            self.speed.setText("")
            self.explanation.setText(str(exc))
            return
        self.fit = estimate(self.shape, self.hardware, controls.context_length, controls)
        ok = self.fit.verdict not in (Verdict.TOO_BIG, Verdict.TOO_MANY_GPU_LAYERS)
        self.verdict.setText(self.fit.label if ok else f"<b>{self.fit.label}</b>")
        self.speed.setText(speed_range(self.fit) or "—")
        self.explanation.setText(self.fit.explanation)

    def _on_changed(self) -> None:
        self.update_fit()
        self.changed.emit()
