"""Math as images: TeX rendered by matplotlib's mathtext, off the GUI thread.

matplotlib is imported only when the first answer with math is shown (its
import costs ~1 s here, the first formula ~0.7 s more while it reads its
fonts, then 15-60 ms a formula), on a Qt thread-pool thread. Images are made
in the text colour of the palette at the screen's pixel ratio and cached by
(TeX, display, size, colour, ratio). The text views add them to their
documents as resources under `parley-math:` names: nothing is loaded from a
file or a URL. A formula mathtext can't parse is remembered as failed and
shown as its source, in code.

Issue 22: `a\\hspace{200000}b` (17 characters) became a 6,234,416 x 28 px image,
666 MB, kept for good. A formula's extent is measured first (mathtext's vector
parse draws nothing) and one wider, taller or larger than the caps below is
refused, shown as its source; the cache is bounded in count and bytes.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import ClassVar

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QColor, QImage

logger = logging.getLogger(__name__)

SCHEME = "parley-math"
DISPLAY_SCALE = 1.2  # display math a little larger than the text around it
# One formula's image, in device pixels: wider than a 4K screen or taller than most
# is shown as its source. 4096 x 512 RGBA is 8 MB.
MAX_WIDTH = 4096
MAX_HEIGHT = 1024
MAX_PIXELS = 4096 * 512
CACHE_IMAGES = 1000  # formulas remembered (failures cost nothing and count too)
CACHE_BYTES = 64 << 20  # their images' memory


class FormulaTooLarge(ValueError):
    """The formula would be an image over the caps (`MAX_WIDTH`, `MAX_HEIGHT`, `MAX_PIXELS`)."""


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


def check_extent(width: float, height: float) -> None:
    """Raise `FormulaTooLarge` for an image of `width` x `height` device pixels over the caps."""
    if width > MAX_WIDTH or height > MAX_HEIGHT or width * height > MAX_PIXELS:
        raise FormulaTooLarge(f"formula of {width:.0f} x {height:.0f} px")


def render_math(key: MathKey) -> QImage:
    """Rasterise `key.tex` (mathtext); raises `ValueError` when mathtext can't parse it,
    `FormulaTooLarge` when its image would be over the caps."""
    import numpy as np
    from matplotlib.font_manager import FontProperties
    from matplotlib.mathtext import MathTextParser

    size = key.point_size * (DISPLAY_SCALE if key.display else 1.0)
    tex, dpi, prop = f"${key.tex}$", key.dpi * key.ratio, FontProperties(size=size)
    extent = MathTextParser("path").parse(tex, dpi=dpi, prop=prop)  # measures, draws nothing
    check_extent(extent.width + 2, extent.height + extent.depth + 2)  # raster adds a margin
    parser = MathTextParser("agg")
    try:
        parsed = parser.parse(tex, dpi=dpi, prop=prop)
    finally:
        # mathtext keeps its last 50 results, images included (400 MB at our caps); ours
        # are in our own cache. A private attribute: a matplotlib without it just keeps them.
        cached = getattr(MathTextParser, "_parse_cached", None)
        if cached is not None and hasattr(cached, "cache_clear"):
            cached.cache_clear()
    alpha = np.asarray(parsed.image, dtype=np.uint8)
    check_extent(alpha.shape[1], alpha.shape[0])
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
        except FormulaTooLarge as exc:
            logger.info("math not rendered (%s): %r", exc, self.key.tex[:80])
            image = None
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
        # Least recently used first; None: mathtext can't draw it (or it is too large).
        self._images: OrderedDict[MathKey, QImage | None] = OrderedDict()
        self._bytes = 0
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
            self._images.move_to_end(key)
            return True, self._images[key]
        if key not in self._pending:
            self._pending.add(key)
            self._pool.start(_Job(self, key))
        return False, None

    def is_known(self, key: MathKey) -> bool:
        return key in self._images

    @property
    def cached(self) -> tuple[int, int]:
        """(formulas, bytes of images) in the cache."""
        return len(self._images), self._bytes

    def wait_idle(self, timeout_ms: int = 30_000) -> bool:
        """Tests and benches: wait until every requested formula is done."""
        return bool(self._pool.waitForDone(timeout_ms))

    def _on_finished(self, key: MathKey, image: QImage | None) -> None:
        self._pending.discard(key)
        self._images[key] = image
        self._bytes += _size(image)
        while len(self._images) > CACHE_IMAGES or self._bytes > CACHE_BYTES:
            _, dropped = self._images.popitem(last=False)
            self._bytes -= _size(dropped)
        self.rendered.emit(key)


def _size(image: QImage | None) -> int:
    return 0 if image is None else int(image.sizeInBytes())
