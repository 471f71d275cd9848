"""Math as images: TeX rendered by matplotlib's mathtext, off the GUI thread.

matplotlib is imported only when the first answer with math is shown (its
import costs ~1 s here, the first formula ~0.7 s more while it reads its
fonts, then 15-60 ms a formula), on a Qt thread-pool thread. Images are made
in the text colour of the palette at the screen's pixel ratio and cached by
(TeX, display, size, colour, ratio). The text views add them to their
documents as resources under `parley-math:` names: nothing is loaded from a
file or a URL. A formula mathtext can't parse is remembered as failed and
shown as its source, in code.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import ClassVar

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QColor, QImage

logger = logging.getLogger(__name__)

SCHEME = "parley-math"
DISPLAY_SCALE = 1.2  # display math a little larger than the text around it


@dataclass(frozen=True, slots=True)
class MathKey:
    tex: str
    display: bool
    point_size: float
    color: str  # "#rrggbb"
    dpi: float
    ratio: float

    @property
    def name(self) -> str:
        digest = hashlib.sha1(repr(self).encode(), usedforsecurity=False).hexdigest()[:16]
        return f"{SCHEME}:{digest}"


def render_math(key: MathKey) -> QImage:
    """Rasterise `key.tex` (mathtext); raises `ValueError` when mathtext can't parse it."""
    import numpy as np
    from matplotlib.font_manager import FontProperties
    from matplotlib.mathtext import MathTextParser

    size = key.point_size * (DISPLAY_SCALE if key.display else 1.0)
    parsed = MathTextParser("agg").parse(
        f"${key.tex}$", dpi=key.dpi * key.ratio, prop=FontProperties(size=size)
    )
    alpha = np.asarray(parsed.image, dtype=np.uint8)
    if alpha.size == 0:
        raise ValueError("empty formula")
    color = QColor(key.color)
    height, width = alpha.shape
    rgba = np.empty((height, width, 4), dtype=np.uint8)
    rgba[..., 0], rgba[..., 1], rgba[..., 2] = color.red(), color.green(), color.blue()
    rgba[..., 3] = alpha
    data = rgba.tobytes()
    image = QImage(data, width, height, width * 4, QImage.Format.Format_RGBA8888).copy()
    image.setDevicePixelRatio(key.ratio)
    return image


class _Job(QRunnable):
    def __init__(self, renderer: MathRenderer, key: MathKey) -> None:
        super().__init__()
        self.renderer = renderer
        self.key = key

    def run(self) -> None:
        try:
            image: QImage | None = render_math(self.key)
        except Exception as exc:  # noqa: BLE001 - mathtext raises many kinds: show the source
            logger.info("math not rendered (%s): %r", type(exc).__name__, self.key.tex[:80])
            image = None
        self.renderer.finished.emit(self.key, image)


class MathRenderer(QObject):
    """The app's one math cache and renderer.

    Signals:
        rendered(key): an image (or a failure) for `key` is ready; views showing it redraw
    """

    rendered = Signal(object)
    finished = Signal(object, object)  # internal: from the pool thread
    _instance: ClassVar[MathRenderer | None] = None

    def __init__(self) -> None:
        super().__init__()
        self._images: dict[MathKey, QImage | None] = {}  # None: mathtext can't draw it
        self._pending: set[MathKey] = set()
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self.finished.connect(self._on_finished)

    @classmethod
    def instance(cls) -> MathRenderer:
        if cls._instance is None:
            cls._instance = MathRenderer()
        return cls._instance

    def lookup(self, key: MathKey) -> tuple[bool, QImage | None]:
        """(known, image): known with an image, known to fail (None), or not yet (rendering
        starts; `rendered` follows)."""
        if key in self._images:
            return True, self._images[key]
        if key not in self._pending:
            self._pending.add(key)
            self._pool.start(_Job(self, key))
        return False, None

    def is_known(self, key: MathKey) -> bool:
        return key in self._images

    def wait_idle(self, timeout_ms: int = 30_000) -> bool:
        """Tests and benches: wait until every requested formula is done."""
        return bool(self._pool.waitForDone(timeout_ms))

    def _on_finished(self, key: MathKey, image: QImage | None) -> None:
        self._pending.discard(key)
        self._images[key] = image
        self.rendered.emit(key)
