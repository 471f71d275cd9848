"""Start-up: process start to main window shown, Parley ÷ a bare PySide6 window. Target ≤ 2.0.

The headline is a first start (the starter model, no conversations yet). A
second figure reopens on a conversation of 40 Markdown-rich messages, the way a
returning user starts: it is reported, not judged.
"""

from __future__ import annotations

import os
import sys

from _common import alternate_time_to_shown, report, starter_data_dir

RUNS = 7
HISTORY_TURNS = 20
BARE = """
import time, sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication(sys.argv[:1])
w = QMainWindow(); w.resize(1200, 800); w.show()
def shown():
    print(f"PARLEY_SHOWN {time.time():.6f}", flush=True); app.quit()
QTimer.singleShot(0, shown)
app.exec()
"""
ANSWER = (
    "## Reading a CSV file\n\nUse the `csv` module:\n\n"
    "```python\nimport csv\n\nwith open('f.csv') as f:\n    for row in csv.reader(f):\n"
    "        print(row)\n```\n\n- it handles quoting\n- and odd line endings\n\n"
    "| reader | gives |\n|---|---|\n| `csv.reader` | lists |\n| `csv.DictReader` | dicts |\n"
)


def add_history(data: os.PathLike[str]) -> None:
    from pathlib import Path

    from app.core.chat.backend import GenerationResult, Outcome, TokenSource, Usage
    from app.core.context import AppContext

    ctx = AppContext.open(Path(data))
    try:
        conv = ctx.store.create()
        for i in range(HISTORY_TURNS):
            ctx.store.add_user_message(conv.id, f"Question {i}: how do I read a CSV file?")
            msg = ctx.store.start_assistant_message(conv.id, "local", "llama.cpp", "SmolLM2")
            usage = Usage(40, 120, TokenSource.REPORTED)
            result = GenerationResult(ANSWER, Outcome.DONE, usage, "local", "llama.cpp",
                                      "SmolLM2", ttft_s=0.05, duration_s=1.0)  # fmt: skip
            ctx.store.finish_assistant_message(msg.id, result)
    finally:
        ctx.close()


def main() -> None:
    with starter_data_dir() as data:
        env = dict(os.environ, PARLEY_DATA_DIR=str(data), PARLEY_EXIT_AFTER_SHOWN="1",
                   QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))  # fmt: skip
        parley_cmd = [sys.executable, "-m", "app"]
        bare_cmd = [sys.executable, "-c", BARE]
        parley, bare = alternate_time_to_shown(parley_cmd, bare_cmd, env, RUNS)
        add_history(data)
        with_history, bare_again = alternate_time_to_shown(parley_cmd, bare_cmd, env, RUNS)
    ratio = parley / bare
    report({"bench": "startup", "ratio": ratio, "target": "<= 2.0", "pass": ratio <= 2.0},
           parley_s=round(parley, 3), bare_s=round(bare, 3), runs=RUNS,
           with_history_s=round(with_history, 3),
           with_history_ratio=round(with_history / bare_again, 3),
           history_messages=2 * HISTORY_TURNS)  # fmt: skip


if __name__ == "__main__":
    main()
