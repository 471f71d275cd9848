"""What several reliability tests share: seeding a data dir, starting Parley as a process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.core.llm.contract import GenerationResult, Outcome, TokenSource, Usage
from tests.helpers.starter import REPO

if TYPE_CHECKING:
    from pathlib import Path

    from app.core.context import AppContext


def add_exchange(
    ctx: AppContext, question: str, answer: str, *, model: str = "SmolLM2", title: str = ""
) -> int:
    """A conversation with one finished turn, written straight into the store."""
    conv = ctx.store.create()
    ctx.store.add_user_message(conv.id, question)
    msg = ctx.store.start_assistant_message(conv.id, "local", "llama.cpp", model)
    ctx.store.finish_assistant_message(msg.id, GenerationResult(
        text=answer, outcome=Outcome.DONE, usage=Usage(10, 20, TokenSource.COUNTED),
        backend="local", provider="llama.cpp", model=model, ttft_s=0.1, duration_s=0.5,
    ))  # fmt: skip
    if title:
        ctx.store.rename(conv.id, title)
    ctx.store.touch(conv.id)
    return conv.id


def parley_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PARLEY_DATA_DIR=str(data_dir))
    env.pop("PARLEY_EXIT_AFTER_SHOWN", None)
    env.update(extra)
    return env


@dataclass(frozen=True)
class Run:
    code: int | None  # None: still running when the time ran out (killed)
    stdout: str
    stderr: str
    seconds: float
    started_at: float  # time.time() when the process was started

    @property
    def hung(self) -> bool:
        return self.code is None


def run_parley(
    args: list[str],
    data_dir: Path,
    *,
    timeout: float = 60.0,
    memory_limit: int | None = None,
    stdin: str | None = None,
    **env: str,
) -> Run:
    """`python -m app ARGS` against `data_dir`; a run past `timeout` is killed and reported hung.

    `memory_limit` (bytes of address space) keeps a runaway read from taking the machine down.
    """

    def limit() -> None:
        if memory_limit is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))

    started = time.monotonic()
    started_at = time.time()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", *args], cwd=REPO, env=parley_env(data_dir, **env),
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=limit,
    )  # fmt: skip
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        code = None
    return Run(code, out, err, time.monotonic() - started, started_at)


def open_window_once(data_dir: Path, *, timeout: float = 60.0, memory_limit: int | None = None
                     ) -> Run:  # fmt: skip
    """Start the window, let it show (and open the newest conversation), then quit."""
    return run_parley([], data_dir, timeout=timeout, memory_limit=memory_limit,
                      PARLEY_EXIT_AFTER_SHOWN="1")  # fmt: skip
