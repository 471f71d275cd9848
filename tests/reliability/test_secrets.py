"""Secrets: after a session through every feature, no API key appears under the data folder
(database, write-ahead log, backups, log), in a CSV or conversation export, in anything
printed (errors included), in a crash's output or in a process's arguments; each key went
only to its own host."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

from app.core.foundation import backups
from app.core.llm.targets import Target
from tests.helpers.fault_server import FaultServer, Reply, answer, delta, event, pause
from tests.helpers.starter import REPO
from tests.providers.support import add_provider, run_cli, send
from tests.reliability.support import parley_env

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from app.core.context import AppContext
    from tests.reliability.conftest import Tally

pytestmark = pytest.mark.reliability("secrets")
KEYS = {
    "openai": "sk-reliability-openai-5b1f0c9d2e",
    "mistral": "mistral-reliability-key-77ad30f1",
    "hf": "hf_reliabilityKeyForTheRouter9c2",
}


@pytest.fixture
def servers() -> Iterator[dict[str, FaultServer]]:
    started = {kind: FaultServer() for kind in KEYS}
    yield started
    for server in started.values():
        server.close()


def _leaks(text: str) -> list[str]:
    return [kind for kind, key in KEYS.items() if key in text]


def _scan_files(root: Path) -> dict[str, list[str]]:
    """Files under `root` holding a key, as bytes (also UTF-16, as some stores write)."""
    found: dict[str, list[str]] = {}
    for path in root.rglob("*"):
        if not path.is_file() or path.suffix == ".gguf":
            continue
        data = path.read_bytes()
        hits = [kind for kind, key in KEYS.items()
                if key.encode() in data or key.encode("utf-16-le") in data]  # fmt: skip
        if hits:
            found[str(path.relative_to(root))] = hits
    return found


def test_no_key_anywhere_after_every_feature(
    ctx: AppContext, servers: dict[str, FaultServer], tmp_path: Path, cli_logging: None,
    tally: Tally,
) -> None:  # fmt: skip
    printed: list[str] = []

    def cli(*argv: str, stdin: str = "") -> int:
        code, out, err = run_cli(list(argv), stdin)
        printed.extend([out, err])
        return code

    # Providers: added, keyed, listed, tested.
    for kind, server in servers.items():
        add_provider(ctx, kind, kind, server.base_url, key=None)
        assert cli("providers", "set-key", kind, stdin=KEYS[kind] + "\n") == 0
    cli("providers", "list", "--json")
    for kind, server in servers.items():
        server.models = {"object": "list", "data": [{"id": "smollm2"}]}
        cli("providers", "test", kind)
    # Chat: answers, errors that echo the key back, a stream error event quoting it.
    for kind, server in servers.items():
        target = Target(kind, "org/smollm2" if kind == "hf" else "smollm2")
        conv = ctx.store.create(target=str(target))
        echo = f"invalid key: Bearer {KEYS[kind]}"
        server.script(
            Reply.stream(answer("Hello there.", usage={"prompt_tokens": 3,
                                                       "completion_tokens": 3})),
            Reply.error(401, echo),
            Reply.stream(delta("Half"), event({"error": {"message": echo}})),
            Reply.error(500, echo), Reply.error(500, echo), Reply.error(500, echo),
        )  # fmt: skip
        for prompt in ("Hi", "Again", "Once more", "And a server error"):
            result = send(ctx, conv.id, prompt, target).result
            printed.append(result.error or "")
        cli("chat", "--backend", kind, "--model", target.model, "CLI hello")
    # Compare, billing, budgets, exports, backups.
    servers["openai"].script(Reply.stream(answer("A")))
    servers["mistral"].script(Reply.stream(answer("B")))
    cli("compare", "--backend", "openai:smollm2", "--backend", "mistral:smollm2", "--json",
        "Which is better?")  # fmt: skip
    cli("usage", "--json")
    cli("usage", "export", str(tmp_path / "ledger.csv"))
    cli("budget", "set", "--amount", "5", "--period", "month")
    cli("budget", "show", "--json")
    for conv in ctx.store.list():
        cli("conversations", "show", str(conv.id), "--json")
        for fmt in ("md", "json"):
            cli("conversations", "export", str(conv.id), "--format", fmt, "-o",
                str(tmp_path / f"conv-{conv.id}.{fmt}"))  # fmt: skip
    assert backups.make_backup(ctx.db.path) is not None  # type: ignore[arg-type]
    ctx.db.execute("PRAGMA wal_checkpoint(PASSIVE)")
    # Where the keys went.
    for kind, server in servers.items():
        sent = {r.headers.get("Authorization", "") for r in server.requests} - {""}
        others = [k for k in KEYS if k != kind and any(KEYS[k] in s for s in sent)]
        tally.case(leaked=bool(others), note=f"{kind}'s server got {others}")
        assert f"Bearer {KEYS[kind]}" in sent  # its own key did arrive
    # Where they must not be.
    in_files = _scan_files(ctx.root)
    tally.case(leaked=bool(in_files), note=f"data folder: {in_files}")
    exported = _scan_files(tmp_path)
    tally.case(leaked=bool(exported), note=f"exports: {exported}")
    in_print = _leaks("\n".join(printed))
    tally.case(leaked=bool(in_print), note=f"printed: {in_print}")
    assert (tmp_path / "ledger.csv").exists() and list(tmp_path.glob("conv-*.md"))
    tally.check()


@pytest.mark.skipif(not os.environ.get("PARLEY_TEST_SECRET_SERVICE"),
                    reason="a second process needs the private Secret Service of make test")
def test_no_key_in_process_arguments_or_crash_output(
    data_dir: Path, servers: dict[str, FaultServer], tally: Tally
) -> None:
    env = parley_env(data_dir, PYTHONUNBUFFERED="1")
    server = servers["openai"]
    for argv, stdin in (
        (["providers", "add", "openai", "--kind", "openai", "--base-url", server.base_url,
          "--model", "smollm2"], None),
        (["providers", "set-key", "openai"], KEYS["openai"] + "\n"),
    ):  # fmt: skip
        done = subprocess.run([sys.executable, "-m", "app", *argv], input=stdin, env=env,
                              cwd=REPO, capture_output=True, text=True, timeout=60)  # fmt: skip
        assert done.returncode == 0, done.stderr
    server.script(Reply.stream(delta("Slowly"), *[pause(0.2), delta(" more")] * 200))
    proc = subprocess.Popen([sys.executable, "-X", "faulthandler", "-m", "app", "chat",
                             "--backend", "openai", "A long one"], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert proc.stdout is not None
    proc.stdout.read(6)  # the answer is streaming
    args = ""
    for child in [proc.pid]:
        with open(f"/proc/{child}/cmdline", "rb") as f:
            args += f.read().decode(errors="replace")
        with open(f"/proc/{child}/environ", "rb") as f:
            args += f.read().decode(errors="replace")
    time.sleep(0.5)
    proc.kill()  # a crash, as the user sees one
    out, err = proc.communicate()
    tally.case(leaked=bool(_leaks(args)), note="process arguments or environment")
    tally.case(leaked=bool(_leaks((out + err).decode(errors="replace"))), note="crash output")
    tally.case(leaked=bool(_scan_files(data_dir)), note=f"{_scan_files(data_dir)}")
    tally.check()
