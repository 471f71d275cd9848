"""Start-up: process start to main window shown, Parley ÷ a bare PySide6 window. Target ≤ 2.0."""

from __future__ import annotations

import os
import sys

from _common import alternate_time_to_shown, report, starter_data_dir

RUNS = 7
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


def main() -> None:
    with starter_data_dir() as data:
        env = dict(os.environ, PARLEY_DATA_DIR=str(data), PARLEY_EXIT_AFTER_SHOWN="1",
                   QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))  # fmt: skip
        parley_cmd = [sys.executable, "-m", "app"]
        bare_cmd = [sys.executable, "-c", BARE]
        parley, bare = alternate_time_to_shown(parley_cmd, bare_cmd, env, RUNS)
    ratio = parley / bare
    report({"bench": "startup", "ratio": ratio, "target": "<= 2.0", "pass": ratio <= 2.0},
           parley_s=round(parley, 3), bare_s=round(bare, 3), runs=RUNS)  # fmt: skip


if __name__ == "__main__":
    main()
