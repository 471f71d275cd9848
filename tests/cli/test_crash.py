"""`kill -9` of `parley chat` mid-answer loses neither the question nor the partial answer."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING

from tests.cli.conftest import Runner, parley_env
from tests.helpers.starter import REPO

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@contextmanager
def long_answer(data: Path) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "chat", "--max-tokens", "4000",
         "Write a very long story about a lighthouse keeper."],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=REPO, env=parley_env(data),
    )  # fmt: skip
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


def wait_for_output(proc: subprocess.Popen[bytes], chars: int) -> str:
    """Read the streamed answer until at least `chars` characters have arrived."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    seen = b""
    deadline = time.monotonic() + 60
    while len(seen) < chars and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            seen += chunk
    return seen.decode("utf-8", errors="ignore")


def test_kill_9_mid_answer_keeps_the_partial_answer(parley: Runner, data_dir: Path) -> None:
    with long_answer(data_dir) as proc:
        seen = wait_for_output(proc, 400)
        time.sleep(1.2)  # past one checkpoint interval
        seen += wait_for_output(proc, 1)
        proc.kill()
    assert len(seen) >= 400

    [conv] = json.loads(parley("conversations", "list", "--json").stdout)
    shown = json.loads(parley("conversations", "show", str(conv["id"]), "--json").stdout)
    question, answer = shown["messages"]
    assert question["content"].startswith("Write a very long story")
    assert answer["outcome"] == "interrupted"
    assert len(answer["content"]) >= 200
    assert seen.startswith(answer["content"][:200])
    rows = json.loads(parley("usage", "--json").stdout)
    assert rows[0]["outcome"] == "interrupted"


def test_ctrl_c_stops_keeps_the_answer_and_exits_130(parley: Runner, data_dir: Path) -> None:
    with long_answer(data_dir) as proc:
        seen = wait_for_output(proc, 100)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
        assert proc.returncode == 130
    [conv] = json.loads(parley("conversations", "list", "--json").stdout)
    answer = json.loads(parley("conversations", "show", str(conv["id"]), "--json").stdout)[
        "messages"][1]  # fmt: skip
    assert answer["outcome"] == "stopped"
    assert answer["content"].startswith(seen[:100])


def test_unwritable_data_dir_is_a_clear_message(tmp_path: Path) -> None:
    data = tmp_path / "locked"
    data.mkdir()
    data.chmod(0o500)
    try:
        env = parley_env(data / "inner") | {"PARLEY_DATA_DIR": str(data / "inner")}
        if os.geteuid() == 0:
            # root ignores permissions: a data dir under a regular file is unwritable for anyone
            blocker = tmp_path / "file"
            blocker.write_text("")
            env["PARLEY_DATA_DIR"] = str(blocker / "data")
        out = subprocess.run([sys.executable, "-m", "app", "models", "list"], env=env,
                             capture_output=True, text=True, cwd=REPO, timeout=60)  # fmt: skip
    finally:
        data.chmod(0o700)
    assert out.returncode == 1
    assert "can't write to its data folder" in out.stderr
    assert "PARLEY_DATA_DIR" in out.stderr
    assert "Traceback" not in out.stderr
