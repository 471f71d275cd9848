"""Compare against the real local backend, a real llama_cpp.server and a dead endpoint."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections import defaultdict
from typing import TYPE_CHECKING

import pytest

from app.core.chat.compare import (
    COMPARE_TAG,
    CompareRunner,
    ComparisonStore,
    continue_as_conversation,
)
from app.core.llm.contract import Sampling
from app.core.llm.targets import Target
from app.core.local.catalog import STARTER_NAME
from app.core.providers import ProviderKind
from tests.helpers.llama_server import LlamaServer, free_port, llama_server
from tests.helpers.starter import REPO

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from app.core.context import AppContext

SAMPLING = Sampling(temperature=0.0, max_tokens=24)
LOCAL = Target("local", STARTER_NAME)


@pytest.fixture(scope="module")
def server(starter_path: Path) -> Iterator[LlamaServer]:
    with llama_server(starter_path) as srv:
        yield srv


@pytest.fixture(scope="module")
def server2(starter_path: Path) -> Iterator[LlamaServer]:
    # llama_cpp.server answers one request at a time: concurrent targets need their own.
    with llama_server(starter_path) as srv:
        yield srv


def add_provider(ctx: AppContext, name: str, base_url: str) -> Target:
    ctx.providers.add(name, ProviderKind.OPENAI, base_url=base_url, model="smollm2")
    return Target(name, "smollm2")


def runner(ctx: AppContext) -> CompareRunner:
    return CompareRunner(ctx.exchanges, ComparisonStore(ctx.db))


def test_columns_stream_separately_and_each_is_billed(
    ctx: AppContext, server: LlamaServer, server2: LlamaServer
) -> None:
    a = add_provider(ctx, "cloud-a", server.base_url)
    b = add_provider(ctx, "cloud-b", server2.base_url)
    seen: dict[int, list[str]] = defaultdict(list)
    lock = threading.Lock()

    def on_delta(i: int, text: str) -> None:
        with lock:
            seen[i].append(text)

    comparison = runner(ctx).run("Name a colour.", [LOCAL, a, b], sampling=SAMPLING,
                                 on_delta=on_delta)  # fmt: skip
    assert [c.outcome for c in comparison.columns] == ["done", "done", "done"]
    for column in comparison.columns:
        assert column.text.strip()
        assert "".join(seen[column.position]) == column.text  # no interleaving
        assert column.completion_tokens and column.completion_tokens > 0
    rows = {r.id: r for r in ctx.ledger.rows()}
    assert len(rows) == 3
    for column in comparison.columns:
        row = rows[column.usage_id or -1]
        assert row.tag == COMPARE_TAG
        assert row.completion_tokens == column.completion_tokens
        assert row.to_dict()["cost"] == column.cost
        if column.target.backend == "local":
            assert column.energy_wh is not None and column.energy_wh > 0
    # saved, and reopened the same
    assert ComparisonStore(ctx.db).get(comparison.id) == comparison


def test_one_failing_target_leaves_the_others_intact(ctx: AppContext, server: LlamaServer) -> None:
    good = add_provider(ctx, "good", server.base_url)
    dead = add_provider(ctx, "dead", f"http://127.0.0.1:{free_port()}/v1")
    comparison = runner(ctx).run("Say hi.", [dead, LOCAL, good], sampling=SAMPLING)
    outcomes = [c.outcome for c in comparison.columns]
    assert outcomes == ["error", "done", "done"]
    assert "Couldn't reach dead" in (comparison.columns[0].error or "")
    assert comparison.cheapest() in (1, 2) and comparison.fastest() in (1, 2)


def test_stop_on_one_column_stops_only_that_one(ctx: AppContext, server: LlamaServer) -> None:
    cloud = add_provider(ctx, "cloud", server.base_url)
    cancels = [threading.Event(), threading.Event()]

    def on_delta(i: int, _text: str) -> None:
        if i == 0:
            cancels[0].set()

    comparison = runner(ctx).run(
        "Write a long story about a fox.", [LOCAL, cloud], cancels=cancels, on_delta=on_delta,
        sampling=Sampling(temperature=0.0, max_tokens=200),
    )  # fmt: skip
    local, remote = comparison.columns
    assert local.outcome == "stopped" and local.text
    assert local.completion_tokens is not None and local.completion_tokens < 10
    assert remote.outcome == "done" and remote.completion_tokens and remote.completion_tokens > 10


def test_continue_with_this_answer_makes_a_conversation(ctx: AppContext) -> None:
    comparison = runner(ctx).run("Name a bird.", [LOCAL], system_prompt="Be terse.",
                                 sampling=SAMPLING)  # fmt: skip
    cid = continue_as_conversation(comparison, 0, ctx.store)
    conv = ctx.store.get(cid)
    assert conv.system_prompt == "Be terse." and conv.target == str(LOCAL)
    user, answer = ctx.store.messages(cid)
    assert user.content == "Name a bird."
    assert answer.content == comparison.columns[0].text and answer.outcome == "done"


def test_cli_json_and_exit_status(data_dir: Path, server: LlamaServer) -> None:
    env = {"PARLEY_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin"}

    def parley(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True,
                              text=True, cwd=REPO, env=env, timeout=120)  # fmt: skip

    assert parley("providers", "add", "srv", "--kind", "openai", "--base-url",
                  server.base_url, "--model", "smollm2").returncode == 0  # fmt: skip
    assert parley("providers", "add", "gone", "--kind", "openai", "--base-url",
                  f"http://127.0.0.1:{free_port()}/v1", "--model", "x").returncode == 0  # fmt: skip
    out = parley("compare", "--json", "--max-tokens", "12", "--backend", "local",
                 "--backend", "srv", "--backend", "gone", "Say yes.")  # fmt: skip
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    targets = [r["target"] for r in result["results"]]
    assert targets == [f"local:{STARTER_NAME}", "srv:smollm2", "gone:x"]
    for r in result["results"]:
        assert {"text", "completion_tokens", "ttft_s", "duration_s", "cost", "outcome",
                "error"} <= r.keys()  # fmt: skip
    assert [r["outcome"] for r in result["results"]] == ["done", "done", "error"]
    assert "gone" in out.stderr

    table = parley("compare", "--max-tokens", "8", "--backend", "local", "Hi")
    assert table.returncode == 0 and "TTFT" in table.stdout and "cheapest" in table.stdout
    none = parley("compare", "--backend", "gone", "Hi")
    assert none.returncode == 1


def test_a_hard_budget_refuses_cloud_columns_only(ctx: AppContext, server: LlamaServer) -> None:
    cloud = add_provider(ctx, "pricey", server.base_url)
    ctx.ledger.prices.set("pricey", "smollm2", 1000.0, 1000.0)
    ctx.ledger.budgets.set(0.01, "day", hard=True)
    comparison = runner(ctx).run("Say hi.", [LOCAL, cloud], sampling=SAMPLING)
    local, refused = comparison.columns
    assert local.outcome == "done"
    assert refused.outcome == "error" and "budget" in (refused.error or "").lower()
    assert refused.text == ""
