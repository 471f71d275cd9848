"""Start-up: process start to main window shown, Parley ÷ a bare PySide6 window. Target ≤ 2.0.

The headline is a warm first start (the starter model, no conversations yet, the
files in the OS's page cache). Reported beside it, not judged:
- a cold first start: a new data folder, and every file Python, Qt and Parley read
  dropped from the page cache first (`posix_fadvise(DONTNEED)`, no root needed), as
  after a reboot or a fresh install; the bare window is measured cold the same way;
- a restart on a conversation of 40 Markdown-rich messages, the way a returning user starts.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from _common import REPO, alternate_time_to_shown, report, starter_data_dir, time_to_shown

RUNS = 7
COLD_RUNS = 3
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

    from app.core.context import AppContext
    from app.core.llm.contract import GenerationResult, Outcome, TokenSource, Usage

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


def evict_page_cache() -> tuple[int, int]:
    """Drop the interpreter's, the venv's and Parley's files from the page cache.

    Returns (files, bytes) advised. Clean pages leave at once; the next start reads them
    from disk again.
    """
    roots = {Path(sysconfig.get_paths()["stdlib"]), Path(sysconfig.get_paths()["purelib"]),
             Path(sysconfig.get_paths()["platlib"]), REPO / "app", Path(sys.executable).parent}
    files = size = 0
    for root in roots:
        for path in root.rglob("*") if root.is_dir() else []:
            try:
                if not path.is_file() or path.is_symlink():
                    continue
                fd = os.open(path, os.O_RDONLY)
            except OSError:
                continue
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                files += 1
                size += os.fstat(fd).st_size
            finally:
                os.close(fd)
    return files, size


def cold_first_start(parley_cmd: list[str], bare_cmd: list[str], env: dict[str, str],
                     starter: Path) -> tuple[float, float, int]:  # fmt: skip
    """Median (Parley, bare) start-up with a cold page cache; Parley in a new data folder."""
    from tests.helpers.starter import install_into

    parley, bare = [], []
    evicted = 0
    for _ in range(COLD_RUNS):
        with tempfile.TemporaryDirectory(prefix="parley-cold-") as tmp:
            install_into(Path(tmp) / "models", starter)
            evicted = evict_page_cache()[1]
            time.sleep(0.2)
            parley.append(time_to_shown(parley_cmd, dict(env, PARLEY_DATA_DIR=tmp)))
        evict_page_cache()
        time.sleep(0.2)
        bare.append(time_to_shown(bare_cmd, env))
    return sorted(parley)[len(parley) // 2], sorted(bare)[len(bare) // 2], evicted


def main() -> None:
    with starter_data_dir() as data:
        env = dict(os.environ, PARLEY_DATA_DIR=str(data), PARLEY_EXIT_AFTER_SHOWN="1",
                   QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))  # fmt: skip
        parley_cmd = [sys.executable, "-m", "app"]
        bare_cmd = [sys.executable, "-c", BARE]
        starter = next((data / "models").glob("*.gguf"))
        cold, cold_bare, evicted = cold_first_start(parley_cmd, bare_cmd, env, starter)
        parley, bare = alternate_time_to_shown(parley_cmd, bare_cmd, env, RUNS)
        add_history(data)
        with_history, bare_again = alternate_time_to_shown(parley_cmd, bare_cmd, env, RUNS)
    ratio = parley / bare
    report({"bench": "startup", "ratio": ratio, "target": "<= 2.0", "pass": ratio <= 2.0},
           parley_s=round(parley, 3), bare_s=round(bare, 3), runs=RUNS,
           cold_first_start_s=round(cold, 3), cold_bare_s=round(cold_bare, 3),
           cold_ratio=round(cold / cold_bare, 3), cold_runs=COLD_RUNS,
           cold_evicted_mb=round(evicted / 1e6),
           with_history_s=round(with_history, 3),
           with_history_ratio=round(with_history / bare_again, 3),
           history_messages=2 * HISTORY_TURNS)  # fmt: skip


if __name__ == "__main__":
    main()
