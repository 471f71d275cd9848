"""`auto` through the gateway: local-only projects, fallback, budgets, and the recorded reason."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import httpx

from app.core.routing.policy import RoutingPolicy, save_policy
from tests.helpers.fault_server import Reply
from tests.providers.support import add_provider

if TYPE_CHECKING:
    from pathlib import Path

    from app.core.context import AppContext
    from tests.gateway.conftest import Running
    from tests.helpers.fault_server import FaultServer


def ask(gateway: Running, project: str | None = None, model: str = "auto") -> httpx.Response:
    headers = dict(gateway.headers)
    if project:
        headers["X-Parley-Project"] = project
    return httpx.post(f"{gateway.base_url}/chat/completions", headers=headers, timeout=120,
                      json={"model": model, "max_tokens": 6,
                            "messages": [{"role": "user", "content": "Hello"}]})  # fmt: skip


def cheap_cloud(ctx: AppContext, fault: FaultServer) -> None:
    """A cloud provider with a price: the cheapest target when the local model isn't loaded."""
    add_provider(ctx, "cheap", "openai", fault.base_url)
    ctx.ledger.prices.set("cheap", "smollm2", 0.10, 0.20)


def test_a_local_only_project_never_reaches_the_cloud(
    ctx: AppContext, gateway: Running, fault: FaultServer
) -> None:
    cheap_cloud(ctx, fault)
    save_policy(ctx.settings, RoutingPolicy(local_projects=("clinic",)))

    other = ask(gateway, project="website")
    assert other.json()["parley"]["backend"] == "cheap"  # what auto does for anyone else
    assert len(fault.chat_requests()) == 1

    kept = ask(gateway, project="clinic")
    assert kept.status_code == 200
    assert kept.json()["parley"]["backend"] == "local"
    assert len(fault.chat_requests()) == 1  # the cloud server saw nothing more
    row = ctx.ledger.rows()[0]
    assert (row.backend, row.project) == ("local", "clinic")
    assert row.route == "kept local: project 'clinic' is kept local"


def test_a_target_that_fails_before_its_first_token_falls_back(
    ctx: AppContext, gateway: Running, fault: FaultServer
) -> None:
    cheap_cloud(ctx, fault)
    fault.script(*[Reply.error(503, "overloaded")] * 3)  # every retry the backend makes
    resp = ask(gateway)
    assert resp.status_code == 200
    assert resp.json()["choices"][0]["message"]["content"]
    row = ctx.ledger.rows()[0]
    assert row.backend == "local"
    assert row.route is not None
    assert row.route.startswith("fallback: SmolLM2-135M-Instruct.Q4_1")
    assert "cheap failed before its first token" in row.route and "HTTP 503" in row.route
    assert resp.json()["parley"]["route"] == row.route


def test_a_hard_budget_refusal_reaches_no_provider(
    ctx: AppContext, gateway: Running, fault: FaultServer
) -> None:
    cheap_cloud(ctx, fault)
    ctx.ledger.budgets.set(0.0000001, "day", hard=True)

    direct = ask(gateway, model="cheap/smollm2")
    assert direct.status_code == 402
    assert direct.json()["error"]["code"] == "budget_exceeded"
    assert "Nothing was sent" in direct.json()["error"]["message"]

    routed = ask(gateway)  # auto: the budget refuses the cloud, the local model answers
    assert routed.status_code == 200
    assert routed.json()["parley"]["backend"] == "local"
    assert "Refused by the daily overall budget" in (ctx.ledger.rows()[0].route or "")
    assert fault.chat_requests() == []


def test_the_most_a_request_may_cost_skips_a_pricier_provider(
    ctx: AppContext, gateway: Running, fault: FaultServer
) -> None:
    cheap_cloud(ctx, fault)
    save_policy(ctx.settings, RoutingPolicy(max_request_cost=0.00000001))
    resp = ask(gateway)
    assert resp.json()["parley"]["backend"] == "local"
    assert "cheap could cost" in (ctx.ledger.rows()[0].route or "")
    assert fault.chat_requests() == []


def test_what_a_client_sends_reaches_the_provider_in_the_chats_own_alternating_shape(
    ctx: AppContext, gateway: Running, fault: FaultServer
) -> None:
    add_provider(ctx, "cloud", "openai", fault.base_url)
    resp = httpx.post(f"{gateway.base_url}/chat/completions", headers=gateway.headers,
                      timeout=60, json={"model": "cloud/smollm2", "messages": [
                          {"role": "system", "content": "Be brief."},
                          {"role": "user", "content": "First question"},
                          {"role": "assistant", "content": ""},
                          {"role": "user", "content": "Second question"},
                          {"role": "developer", "content": "Answer in French."}]})  # fmt: skip
    assert resp.status_code == 200
    sent = json.loads(fault.chat_requests()[0].body)["messages"]
    assert sent == [
        {"role": "system", "content": "Be brief.\n\nAnswer in French."},
        {"role": "user", "content": "First question\n\nSecond question"},
    ]


def test_messages_without_a_question_are_a_400(gateway: Running) -> None:
    resp = httpx.post(f"{gateway.base_url}/chat/completions", headers=gateway.headers,
                      json={"model": "auto", "messages": [{"role": "system", "content": "x"}]})
    assert resp.status_code == 400
    assert resp.json()["error"]["param"] == "messages"


def test_the_client_and_the_reason_reach_the_csv(
    ctx: AppContext, gateway: Running, fault: FaultServer, tmp_path: Path
) -> None:
    import csv

    from app.core.billing.export import export_csv

    cheap_cloud(ctx, fault)
    headers = dict(gateway.headers, **{"X-Parley-Client": "=HYPERLINK(\"x\")"})
    httpx.post(f"{gateway.base_url}/chat/completions", headers=headers, timeout=60,
               json={"model": "auto", "max_tokens": 4,
                     "messages": [{"role": "user", "content": "Hi"}]})  # fmt: skip
    out = tmp_path / "usage.csv"
    export_csv(ctx.db, out)
    with out.open(newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert row["client"] == "'=HYPERLINK(\"x\")"  # a client's name is never a live formula
    assert row["route"] == ctx.ledger.rows()[0].route
    assert row["route"].startswith("cheapest: cheap")
