"""Issue 22, input 4: what a model, a title or a provider writes is shown on a terminal,
never obeyed. The CLI runs in a real pseudo-terminal, as a user's shell runs it."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from app.core.llm.targets import Target
from tests.cli.conftest import parley_env
from tests.helpers.fault_server import FaultServer, Reply, answer
from tests.helpers.starter import REPO
from tests.providers.support import add_provider

if TYPE_CHECKING:
    from collections.abc import Iterator

    from app.core.context import AppContext

# Sets the title, clears the screen, writes the clipboard (OSC 52), plants a link (OSC 8),
# hides text, overwrites the line and opens a C1 control sequence.
HOSTILE = ("Hi\x1b]0;pwned\x07\x1b[2J\x1b]52;c;ZXZpbA==\x07\x1b]8;;https://evil.example\x07"
           "click\x1b]8;;\x07\x1b[8mhidden\x1b[0m\rOVERWRITE\x9b31m")  # fmt: skip


def in_terminal(ctx: AppContext, *args: str) -> tuple[int, str]:
    """Run `parley ARGS` with stdout and stderr on a pseudo-terminal; (status, screen)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "app", *args], stdin=subprocess.DEVNULL,
                            stdout=slave, stderr=slave, cwd=REPO,
                            env=parley_env(ctx.root))  # fmt: skip
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    status = proc.wait(120)
    os.close(master)
    return status, out.decode("utf-8", "replace")


def assert_inert(screen: str) -> None:
    assert "\x1b" not in screen and "\x07" not in screen and "\x9b" not in screen, screen
    assert "\rOVERWRITE" not in screen  # the pty's own line ends are "\r\n"


@pytest.fixture
def fault() -> Iterator[FaultServer]:
    server = FaultServer()
    yield server
    server.close()


@pytest.fixture
def hostile_cloud(ctx: AppContext, fault: FaultServer) -> Target:
    add_provider(ctx, "cloud", "openai", fault.base_url, key=None)
    return Target("cloud", "smollm2")


def test_an_answer_with_escape_sequences_is_shown_not_obeyed(
    ctx: AppContext, fault: FaultServer, hostile_cloud: Target
) -> None:
    fault.script(Reply.stream(answer(HOSTILE)))
    status, screen = in_terminal(ctx, "chat", "--backend", "cloud", "--model", "smollm2", "Hi")
    assert status == 0, screen
    assert_inert(screen)
    assert "␛]0;pwned␇" in screen and "␍OVERWRITE" in screen and "\\u009b31m" in screen


def test_json_keeps_the_answer_exactly(
    ctx: AppContext, fault: FaultServer, hostile_cloud: Target
) -> None:
    fault.script(Reply.stream(answer(HOSTILE)))
    status, screen = in_terminal(ctx, "chat", "--json", "--backend", "cloud", "--model",
                                 "smollm2", "Hi")  # fmt: skip
    assert status == 0, screen
    assert "\x1b" not in screen  # JSON escapes control characters itself
    body = screen[screen.index("{"):].replace("\r\n", "\n")
    assert json.loads(body)["text"] == HOSTILE


def test_titles_and_messages_are_shown_not_obeyed(ctx: AppContext) -> None:
    conv = ctx.store.create()
    ctx.store.rename(conv.id, "Plan\x1b]0;pwned\x07\x1b[2J")
    ctx.store.add_user_message(conv.id, HOSTILE)
    for args in (("conversations", "list"), ("conversations", "show", str(conv.id))):
        status, screen = in_terminal(ctx, *args)
        assert status == 0, screen
        assert_inert(screen)
        assert "Plan␛]0;pwned␇" in screen


def test_a_providers_error_message_is_shown_not_obeyed(
    ctx: AppContext, fault: FaultServer, hostile_cloud: Target
) -> None:
    fault.script(*[Reply.error(400, HOSTILE)] * 3)
    status, screen = in_terminal(ctx, "chat", "--backend", "cloud", "--model", "smollm2", "Hi")
    assert status != 0
    assert_inert(screen)
    assert "parley:" in screen
