"""Issue 21: one request is one object, whichever path sends it.

Each test is one of the issue's failing inputs, through the real gateway (the
official `openai` client, httpx) and a provider stand-in as strict as the real
one, or through the CLI and the chat service on the same data folder.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING

import httpx
import openai
import pytest

from app.core.billing.hourly import set_hourly
from app.core.chat.projects import ProjectStore
from app.core.llm.targets import Target
from app.core.routing.policy import RoutingPolicy, save_policy
from tests.cli.conftest import parley_env
from tests.helpers.fault_server import DONE, Reply, delta, pause
from tests.helpers.starter import REPO
from tests.helpers.strict_server import StrictServer
from tests.providers.support import add_provider, drain, new_conversation

if TYPE_CHECKING:
    from collections.abc import Iterator

    from app.core.context import AppContext
    from tests.gateway.conftest import Running
    from tests.helpers.fault_server import FaultServer

MAX_TOKENS = 20
# 20 tokens of answer at 505 per million: 0.0101 a request, the figure.
OUTPUT_PRICE = 505.0
EACH = MAX_TOKENS * OUTPUT_PRICE / 1e6
HARD = 0.025  # two requests fit, a third does not


@pytest.fixture
def strict() -> Iterator[StrictServer]:
    server = StrictServer("openai")
    yield server
    server.close()


def slow_full_answer(seconds: float = 1.5) -> Reply:
    """An answer that takes `seconds` and uses every token it may: the worst case."""
    usage = {"prompt_tokens": 12, "completion_tokens": MAX_TOKENS,
             "total_tokens": 12 + MAX_TOKENS}  # fmt: skip
    return Reply.stream(pause(seconds), delta("ok", "smollm2"),
                        delta("", "smollm2", usage=usage, finish="stop"), DONE)  # fmt: skip


def priced_cloud(ctx: AppContext, server: FaultServer, name: str = "cloud") -> None:
    add_provider(ctx, name, "openai", server.base_url)
    ctx.ledger.prices.set(name, "smollm2", 0.0, OUTPUT_PRICE)


def post(gateway: Running, model: str, headers: dict[str, str | bytes] | None = None,
         token: str | None = None) -> httpx.Response:  # fmt: skip
    auth = {"Authorization": f"Bearer {token}"} if token else gateway.headers
    return httpx.post(f"{gateway.base_url}/chat/completions", headers={**auth, **(headers or {})},
                      timeout=120, json={"model": model, "max_tokens": MAX_TOKENS,
                                         "messages": [{"role": "user", "content": "Hello"}]})


def spent(ctx: AppContext) -> float:
    return sum(r.cost or 0.0 for r in ctx.ledger.rows())


def test_sixteen_clients_at_once_spend_at_most_the_hard_budget(
    ctx: AppContext, gateway: Running, strict: StrictServer
) -> None:
    """Input 1: six at once all got 200 and spent 242 % of the hard budget."""
    priced_cloud(ctx, strict)
    ctx.ledger.budgets.set(HARD, "day", hard=True)
    strict.script(*[slow_full_answer() for _ in range(16)])
    client = openai.OpenAI(base_url=gateway.base_url, api_key=gateway.token, max_retries=0,
                           timeout=120)  # fmt: skip
    outcomes: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def one() -> None:
        start.wait()
        try:
            client.chat.completions.create(
                model="cloud/smollm2", max_tokens=MAX_TOKENS,
                messages=[{"role": "user", "content": "Hello"}],
            )  # fmt: skip
            status = 200
        except openai.APIStatusError as exc:
            status = exc.status_code
        with lock:
            outcomes.append(status)

    threads = [threading.Thread(target=one) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    client.close()
    answered = outcomes.count(200)
    assert sorted(set(outcomes)) == [200, 402], outcomes
    assert spent(ctx) <= HARD + 1e-12, f"{spent(ctx) / HARD:.0%} of the hard budget"
    assert answered == 2  # two fit the budget at the worst case; the rest were refused
    assert len(strict.chat_requests()) == answered  # the refused ones reached no provider


def test_the_window_the_cli_and_the_gateway_share_one_budget(
    ctx: AppContext, gateway: Running, strict: StrictServer
) -> None:
    """Three front ends, one data folder, one hard budget: what they spend stays under it."""
    priced_cloud(ctx, strict)
    ctx.ledger.budgets.set(HARD, "day", hard=True)
    strict.script(*[slow_full_answer(3.0) for _ in range(3)])
    target = Target("cloud", "smollm2")
    conv = new_conversation(ctx, target, max_tokens=MAX_TOKENS)
    results: dict[str, object] = {}

    def window() -> None:  # what the Chat tab's worker runs
        try:
            results["window"] = drain(ctx.chat.send(conv, "Hello", target, threading.Event()))
        except Exception as exc:  # noqa: BLE001 - the test reports it below
            results["window"] = exc

    def gateway_client() -> None:
        results["gateway"] = post(gateway, "cloud/smollm2").status_code

    threads = [threading.Thread(target=window), threading.Thread(target=gateway_client)]
    for t in threads:
        t.start()
    cli = subprocess.run(
        [sys.executable, "-m", "app", "chat", "--backend", "cloud", "--model", "smollm2",
         "--max-tokens", str(MAX_TOKENS), "Hello"],
        capture_output=True, text=True, cwd=REPO, env=parley_env(ctx.root), timeout=120,
    )  # fmt: skip
    for t in threads:
        t.join(120)
    answered = len(strict.chat_requests())
    assert spent(ctx) <= HARD + 1e-12, (results, cli.stderr)
    assert answered == 2, (results, cli.returncode, cli.stderr)
    refused = [n for n, v in results.items() if v == 402 or isinstance(v, Exception)]
    refused += ["cli"] if cli.returncode != 0 else []
    assert len(refused) == 1, (results, cli.stderr)
    if refused == ["cli"]:
        assert "Refused by the daily overall budget" in cli.stderr


def test_a_project_that_an_organisation_pays_for_is_billed_to_it_through_the_gateway(
    ctx: AppContext, gateway: Running, fault: FaultServer
) -> None:
    """Input 2: `X-HF-Bill-To` went with the chat's requests, not with the gateway's."""
    add_provider(ctx, "hf", "hf", fault.base_url, key="hf_parley_test_token_1234")
    ProjectStore(ctx.db).set_bill_to("acme", "acme-org")
    _token, secret = ctx.access_tokens.create("acme-agent", "acme")
    resp = post(gateway, "hf/mistralai/Mistral-Small-3.2-24B-Instruct-2506", token=secret)
    assert resp.status_code == 200, resp.text
    headers = {k.lower(): v for k, v in fault.chat_requests()[0].headers.items()}
    assert headers.get("x-hf-bill-to") == "acme-org"
    assert ctx.ledger.rows()[0].project == "acme"


def test_an_hourly_provider_bills_each_request_its_own_time_after_a_fallback(
    ctx: AppContext, gateway: Running, fault: FaultServer
) -> None:
    """Input 3: failed attempts billed 2.22 USD for 2.09 s, later requests at half time."""
    add_provider(ctx, "box", "openai", fault.base_url)
    set_hourly(ctx.settings, "box", 3600.0, "USD")  # 1 USD a second
    fault.script(*[Reply.error(503, "overloaded")] * 3)  # every retry the backend makes
    routed = post(gateway, "auto")
    assert routed.status_code == 200 and routed.json()["parley"]["backend"] == "local"
    failed = next(r for r in ctx.ledger.rows() if r.backend == "box")
    assert failed.outcome == "error" and failed.cost_source == "hourly"
    assert failed.cost == pytest.approx(failed.duration_s, abs=0.05)  # its own time, no more

    fault.script(Reply.stream(pause(1.0), delta("fine", "smollm2"),
                              delta("", "smollm2", finish="stop"), DONE))  # fmt: skip
    direct = post(gateway, "box/smollm2")
    assert direct.status_code == 200
    row = ctx.ledger.rows()[0]
    assert row.backend == "box" and row.duration_s >= 1.0
    assert row.cost == pytest.approx(row.duration_s, rel=0.1)  # alone on the server: all of it


def test_a_utf8_project_header_bills_that_project_and_its_budget_applies(
    ctx: AppContext, gateway: Running, strict: StrictServer
) -> None:
    """Input 4: `Société` was read as Latin-1 and billed to `SociÃ©tÃ©`."""
    priced_cloud(ctx, strict)
    name = "Société"
    header = {"X-Parley-Project": name.encode("utf-8")}  # as clients send it: UTF-8 bytes
    first = post(gateway, "cloud/smollm2", header)
    assert first.status_code == 200, first.text
    assert ctx.ledger.rows()[0].project == name
    ctx.ledger.budgets.set(EACH / 2, "day", project=name, hard=True)
    refused = post(gateway, "cloud/smollm2", header)
    assert refused.status_code == 402
    assert len(strict.chat_requests()) == 1


def test_a_project_header_that_is_not_utf8_is_a_clear_400(gateway: Running) -> None:
    resp = httpx.post(f"{gateway.base_url}/chat/completions",
                      headers={**gateway.headers, "X-Parley-Project": b"caf\xe9"}, timeout=60,
                      json={"model": "auto", "messages": [{"role": "user", "content": "Hi"}]})
    assert resp.status_code == 400
    assert "UTF-8" in resp.json()["error"]["message"]


def test_keep_local_projects_never_leave_the_machine_by_any_path(
    ctx: AppContext, gateway: Running, strict: StrictServer
) -> None:
    """Input 5: the cloud received a "keep local" project's prompt four ways."""
    priced_cloud(ctx, strict)
    save_policy(ctx.settings, RoutingPolicy(local_projects=("clinic",)))
    _token, clinic = ctx.access_tokens.create("clinic-app", "clinic")

    named = post(gateway, "cloud/smollm2", token=clinic)
    assert named.status_code == 403
    assert "must stay on this machine" in named.json()["error"]["message"]
    rerouted = post(gateway, "auto", {"X-Parley-Project": "other"}, token=clinic)
    assert rerouted.status_code == 200 and rerouted.json()["parley"]["backend"] == "local"
    by_header = post(gateway, "cloud/smollm2", {"X-Parley-Project": "clinic"})
    assert by_header.status_code == 403

    cli = subprocess.run(
        [sys.executable, "-m", "app", "chat", "--project", "clinic", "--backend", "cloud",
         "--model", "smollm2", "Hello"],
        capture_output=True, text=True, cwd=REPO, env=parley_env(ctx.root), timeout=120,
    )  # fmt: skip
    assert cli.returncode != 0
    assert "must stay on this machine" in cli.stderr

    assert strict.chat_requests() == []
    clinic_rows = [r for r in ctx.ledger.rows() if r.project == "clinic"]
    assert clinic_rows and {r.backend for r in clinic_rows} == {"local"}


def test_a_token_bound_to_a_project_bills_it_whatever_the_headers_say(
    ctx: AppContext, gateway: Running, strict: StrictServer
) -> None:
    """Input 6: a spent project budget was dodged with `X-Parley-Project: other`."""
    priced_cloud(ctx, strict)
    ctx.ledger.budgets.set(EACH / 2, "day", project="website", hard=True)
    _token, website = ctx.access_tokens.create("site", "website")
    assert post(gateway, "cloud/smollm2", token=website).status_code == 402
    dodged = post(gateway, "cloud/smollm2", {"X-Parley-Project": "other"}, token=website)
    assert dodged.status_code == 402
    assert strict.chat_requests() == []
    assert not [r for r in ctx.ledger.rows() if r.project == "other"]


def test_a_hard_budget_refuses_an_unpriced_cloud_request_and_auto_prefers_local(
    ctx: AppContext, gateway: Running, strict: StrictServer, fault: FaultServer
) -> None:
    """Input 7: unpriced cloud requests went through a spent hard budget."""
    priced_cloud(ctx, strict, "priced")
    add_provider(ctx, "unpriced", "openai", fault.base_url)  # no price anywhere
    ctx.ledger.budgets.set(EACH / 2, "day", hard=True)  # the priced one can't fit

    direct = post(gateway, "unpriced/smollm2")
    assert direct.status_code == 402
    message = direct.json()["error"]["message"]
    assert "no known price" in message and "Nothing was sent" in message
    assert "parley prices set unpriced smollm2" in message

    routed = post(gateway, "auto")
    assert routed.status_code == 200
    assert routed.json()["parley"]["backend"] == "local"
    assert fault.chat_requests() == [] and strict.chat_requests() == []


def test_a_provider_budget_set_by_the_providers_own_name_counts(
    ctx: AppContext, gateway: Running, strict: StrictServer
) -> None:
    """Input 8: the budget was matched against the host (`127.0.0.1:PORT`), not `dated`."""
    priced_cloud(ctx, strict, "dated")
    strict.script(slow_full_answer(0.0))
    assert post(gateway, "dated/smollm2").status_code == 200
    row = ctx.ledger.rows()[0]
    assert (row.backend, row.provider) == ("dated", f"127.0.0.1:{strict.port}")
    budget = ctx.ledger.budgets.set(EACH * 1.5, "month", provider="dated", hard=True)
    assert ctx.ledger.budgets.status(budget, time.time()).spent == pytest.approx(EACH)
    assert post(gateway, "dated/smollm2").status_code == 402
    assert len(strict.chat_requests()) == 1


@pytest.mark.parametrize("spelling", ["Clinic", "CLINIC", "clin\u200bic", "cl\u0131nic",
                                      "clinic\u202e", "clinic\u00a0"])  # fmt: skip
def test_a_keep_local_project_is_kept_local_however_its_name_is_spelled(
    ctx: AppContext, gateway: Running, strict: StrictServer, spelling: str
) -> None:
    """Found by a new user: `Clinic`, a zero-width space or a dotless i reached the cloud
    while `clinic` was kept local."""
    priced_cloud(ctx, strict)
    save_policy(ctx.settings, RoutingPolicy(local_projects=("clinic",)))
    header = {"X-Parley-Project": spelling.encode("utf-8")}
    assert post(gateway, "cloud/smollm2", header).status_code == 403
    assert strict.chat_requests() == []
