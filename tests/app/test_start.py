"""Starting the window: a bad data dir gets a clear message, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING

from tests.helpers.starter import REPO

if TYPE_CHECKING:
    from pathlib import Path


def test_unwritable_data_dir_explains_itself_and_shows_a_dialog(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env["PARLEY_DATA_DIR"] = str(blocker / "data")
    proc = subprocess.Popen(
        [sys.executable, "-m", "app"], env=env, cwd=REPO, text=True,
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        line = ""
        while "parley:" not in line:  # printed before the (modal) dialog opens
            line = proc.stderr.readline()
            if not line:
                break
        time.sleep(0.5)
        assert proc.poll() is None, "the error dialog should be waiting for the user"
    finally:
        proc.kill()
        proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()
    assert "can't write to its data folder" in line
    assert "PARLEY_DATA_DIR" in line
