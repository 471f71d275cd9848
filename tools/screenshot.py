"""Screenshots of the real window, for looking at what a user sees.

Run under a real X server, e.g.:
    xvfb-run -s "-screen 0 1280x860x24" .venv/bin/python tools/screenshot.py OUT_DIR [--dark]
It opens Parley on a throw-away data dir (with the starter model), sends a
prompt, and grabs the screen mid-answer, after the answer, and on each tab;
then a conversation with code, math, a list with a fenced block and an
attachment (issue 17), in folders, and Preferences. `--dark` gives the
application a dark palette, as a dark desktop theme would.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


SHOWCASE = r"""Here is how the lamp's range works.

1. Read the tide table:

    ```python
    def read(path: str) -> list[float]:
        with open(path) as f:
            return [float(line) for line in f if line.strip()]  # metres
    ```

2. The beam reaches $d = \sqrt{2 R h}$ where $R$ is the Earth's radius:

$$d \approx 3.57\,\sqrt{h}\ \mathrm{km}$$

| height (m) | range (km) |
|-----------:|-----------:|
| 20 | 16.0 |
| 60 | 27.7 |

```javascript
const range = (h) => 3.57 * Math.sqrt(h); // a very long line that scrolls sideways instead of wrapping onto the next one
```
"""


def dark_palette() -> object:
    from PySide6.QtGui import QColor, QPalette

    pal = QPalette()
    roles = QPalette.ColorRole
    for role, color in ((roles.Window, "#2b2d30"), (roles.WindowText, "#dfe1e5"),
                        (roles.Base, "#1e1f22"), (roles.AlternateBase, "#2b2d30"),
                        (roles.Text, "#dfe1e5"), (roles.Button, "#393b40"),
                        (roles.ButtonText, "#dfe1e5"), (roles.Highlight, "#3574f0"),
                        (roles.HighlightedText, "#ffffff"), (roles.ToolTipBase, "#393b40"),
                        (roles.ToolTipText, "#dfe1e5"), (roles.PlaceholderText, "#8c8f94"),
                        (roles.Link, "#58a6ff"), (roles.Mid, "#4e5157"),
                        (roles.Dark, "#1e1f22"), (roles.Light, "#4e5157")):  # fmt: skip
        pal.setColor(role, QColor(color))
    for role in (roles.Text, roles.WindowText, roles.ButtonText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6f737a"))
    return pal


def showcase(ctx: object, chat: object, data: Path) -> None:
    """A conversation with what issue 17 renders, in a folder, beside a pinned one."""
    from app.core.chat.attachments import read_attachment
    from app.core.llm.contract import GenerationResult, Outcome, TokenSource, Usage
    from app.core.chat.folders import FolderStore

    store = ctx.store  # type: ignore[attr-defined]
    notes = data / "tides.csv"
    notes.write_text("hour,height\n0,1.2\n6,2.9\n12,1.1\n", encoding="utf-8")
    conv = store.create("Lighthouse range", target="local:SmolLM2-135M-Instruct.Q4_1")
    store.add_user_message(conv.id, "How far does the **beam** reach? Use `tides.csv`.",
                           (read_attachment(notes),))
    msg = store.start_assistant_message(conv.id, "local", "llama.cpp", "SmolLM2-135M-Instruct")
    store.finish_assistant_message(msg.id, GenerationResult(
        SHOWCASE, Outcome.DONE, Usage(412, 230, TokenSource.COUNTED), "local", "llama.cpp",
        "SmolLM2-135M-Instruct", 0.21, 3.4))  # fmt: skip
    folder = FolderStore(store.db).create("Lighthouse")
    store.set_folder(conv.id, folder.id)
    pinned = store.create("Packing list for the island")
    store.set_pinned(pinned.id, True)
    chat.refresh()  # type: ignore[attr-defined]
    chat.open_conversation(conv.id)  # type: ignore[attr-defined]
    chat.composer.set_text("And at 60 m?")  # type: ignore[attr-defined]
    chat.attach_files([str(notes)])  # type: ignore[attr-defined]


def main(out: Path, dark: bool = False) -> None:
    out.mkdir(parents=True, exist_ok=True)
    data = Path(tempfile.mkdtemp(prefix="parley-shot-"))
    os.environ["PARLEY_DATA_DIR"] = str(data)
    from tests.helpers.starter import install_into

    install_into(data / "models")

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.core.llm.contract import Sampling
    from app.core.context import AppContext
    from app.ui.app import create_application
    from app.ui.main_window import MainWindow
    from app.workers import WorkerPool

    app = create_application()
    if dark:
        app.setStyle("Fusion")
        app.setPalette(dark_palette())  # type: ignore[arg-type]
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
        (15000, lambda: showcase(ctx, chat, data)),
        (24000, lambda: shoot("chat-code-math")),
        (24300, lambda: chat.view.verticalScrollBar().setValue(0)),
        (25000, lambda: shoot("chat-code-math-top")),
        (25300, window.show_preferences),
        (26500, lambda: shoot("preferences")),
        (26800, window.close),
    ]
    for delay, action in steps:
        QTimer.singleShot(delay, action)  # type: ignore[arg-type]
    from app.ui.app import finish

    finish(app.exec(), pool, ctx)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--dark"]
    main(Path(args[0] if args else "screenshots"), dark="--dark" in sys.argv)
