"""A hard budget under concurrency: what N requests sent at once spend ÷ the budget.

`parley serve` runs as its own process, as a user runs it, with a paced canned upstream
(bench/_canned.py) as a priced OpenAI-compatible provider. A hard daily budget fits two
requests at their worst case (prompt + max tokens at the price) and not a third; every
answer uses all its tokens. N clients (the official `openai` package, one thread each)
send at the same moment. Target: spend ÷ budget ≤ 1.0, and the upstream received exactly
the requests that got an answer (a refused request reaches no provider).

The baseline is the budget itself: before issue 21 every check ran before any spend was
recorded, so all N went through (16 requests at 0.0101: 6.46 times a budget of 0.025).
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

from _canned import MODEL, CannedUpstream
from _common import report
from gateway import start_gateway

from app.core.context import AppContext

CLIENTS = 16
MAX_TOKENS = 64  # every answer is this long: the worst case is what it costs
OUTPUT_PRICE = 0.0101 / MAX_TOKENS * 1e6  # 0.0101 a request, per million tokens
BUDGET = 0.025


def main() -> None:
    import openai

    upstream = CannedUpstream(MAX_TOKENS, interval_s=0.02)  # ~1.3 s an answer
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        serve, base_url, token = start_gateway(root, {"cloud": upstream.base_url})
        try:
            ctx = AppContext.open(root)  # the price and the budget, as `parley` sets them
            try:
                ctx.ledger.prices.set("cloud", MODEL, 0.0, OUTPUT_PRICE)
                ctx.ledger.budgets.set(BUDGET, "day", hard=True)
            finally:
                ctx.close()
            statuses = _send_at_once(openai, base_url, token)
        finally:
            serve.terminate()
            serve.wait(timeout=30)
        ctx = AppContext.open(root)
        try:
            spent = sum(r.cost or 0.0 for r in ctx.ledger.rows())
        finally:
            ctx.close()
    upstream.close()
    answered = statuses.count(200)
    ratio = spent / BUDGET
    report(
        {"bench": "budget_hold", "ratio": ratio, "target": "<= 1.0",
         "pass": ratio <= 1.0 and upstream.requests == answered and answered >= 1},
        clients=CLIENTS, answered=answered, refused_402=statuses.count(402),
        other_statuses=sorted({s for s in statuses if s not in (200, 402)}),
        upstream_received=upstream.requests, spent=round(spent, 6), budget=BUDGET,
    )  # fmt: skip


def _send_at_once(openai: object, base_url: str, token: str) -> list[int]:
    client = openai.OpenAI(base_url=base_url, api_key=token, max_retries=0,  # type: ignore[attr-defined]
                           timeout=120)  # fmt: skip
    statuses: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)

    def one() -> None:
        start.wait()
        try:
            client.chat.completions.create(model=f"cloud/{MODEL}", max_tokens=MAX_TOKENS,
                                           messages=[{"role": "user", "content": "Hello"}])
            status = 200
        except openai.APIStatusError as exc:  # type: ignore[attr-defined]
            status = exc.status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=one) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    client.close()
    return statuses


if __name__ == "__main__":
    main()
