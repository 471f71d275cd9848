"""Screenshots of the real window, for looking at what a user sees.

Run under a real X server, e.g.:
    xvfb-run -s "-screen 0 1280x860x24" .venv/bin/python tools/screenshot.py OUT_DIR
It opens Parley on a throw-away data dir (with the starter model), sends a
prompt, and grabs the screen mid-answer, after the answer, and on each tab.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    data = Path(tempfile.mkdtemp(prefix="parley-shot-"))
    os.environ["PARLEY_DATA_DIR"] = str(data)
    from tests.helpers.starter import install_into

    install_into(data / "models")

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.core.chat.backend import Sampling
    from app.core.context import AppContext
    from app.ui.app import create_application
    from app.ui.main_window import MainWindow
    from app.workers import WorkerPool

    app = create_application()
    ctx = AppContext.open()
    pool = WorkerPool()
    window = MainWindow(ctx, pool)
    window.resize(1240, 820)
    window.show()
    chat = window.chat_tab
    steps: list[tuple[int, object]] = []

    def shoot(name: str) -> None:
        screen = QApplication.primaryScreen()
        screen.grabWindow(0).save(str(out / f"{name}.png"))
        sys.stdout.write(f"saved {out / name}.png\n")

    def send() -> None:
        chat.new_conversation()
        ctx.store.set_sampling(chat.conversation_id or 0, Sampling(max_tokens=400))
        chat.send("Explain in a short Markdown list with a code example how a KV cache "
                  "speeds up chat with a local model.")  # fmt: skip

    def tab(index: int) -> None:
        window.tabs.setCurrentIndex(index)

    steps = [
        (300, send),
        (1800, lambda: shoot("chat-mid-answer")),
        (9000, lambda: shoot("chat-answered")),
        (9300, lambda: tab(1)),
        (11000, lambda: shoot("models")),
        (11300, lambda: tab(2)),
        (13500, lambda: shoot("billing")),
        (13800, lambda: (tab(0), chat.show_compare())),
        (14800, lambda: shoot("compare")),
        (15000, window.close),
    ]
    for delay, action in steps:
        QTimer.singleShot(delay, action)  # type: ignore[arg-type]
    from app.ui.app import finish

    finish(app.exec(), pool, ctx)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "screenshots"))
