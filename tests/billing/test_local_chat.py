"""A real local chat with the starter model produces a costed ledger row."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from app.core.llm.targets import Target

if TYPE_CHECKING:
    from app.core.context import AppContext


def test_a_real_local_chat_is_costed(ctx: AppContext) -> None:
    target = ctx.default_target()
    assert target is not None
    conv = ctx.store.create(target=str(target))
    ctx.store.set_project(conv.id, "acme")
    sampling = ctx.store.get(conv.id).sampling
    from dataclasses import replace

    ctx.store.set_sampling(conv.id, replace(sampling, max_tokens=2))
    gen = ctx.chat.send(conv.id, "Say hi.", Target(target.backend, target.model),
                        threading.Event())  # fmt: skip
    for _ in gen:
        pass
    (row,) = ctx.ledger.rows()
    assert row.backend == "local"
    assert row.project == "acme"
    assert row.cost_source in {"energy measured", "energy estimated"}
    assert row.cost is not None and row.cost > 0
    assert row.energy_wh is not None and row.energy_wh > 0
    assert row.currency == "USD"
    assert row.compare_cost is not None and row.compare_cost > 0
