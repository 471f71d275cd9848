"""The ledger's columns are declared once (billing/columns.py): the table, the row type, the
INSERT, the CSV and the Billing tab's rows all agree with that declaration."""

from __future__ import annotations

import dataclasses
import types
from typing import TYPE_CHECKING

import pytest

from app.core.billing.columns import COLUMN_NAMES, USAGE_COLUMNS, UsageRow
from app.core.billing.export import COLUMNS
from app.core.billing.requests import SORT_KEYS, RequestsQuery, RequestsTable
from app.core.llm.contract import tokens_per_second
from tests.billing.conftest import result

if TYPE_CHECKING:
    from app.core.billing.ledger import Ledger
    from app.core.foundation.storage import Database

T0 = 1_772_368_200.0
# The CSV's header is a file format: users' sheets and scripts read it by position.
RELEASED_HEADER = (
    "id,time_utc,conversation_id,message_id,project,tag,backend,provider,model,prompt_tokens,"
    "completion_tokens,token_source,ttft_s,duration_s,outcome,request_id,cost,currency,"
    "cost_source,price_input,price_output,energy_wh,compare_cost,requested_model,price_source,"
    "price_date,local_date,display_cost,display_currency,client,route"
)


def test_the_declaration_is_the_usage_table(db: Database) -> None:
    table = {r["name"]: r for r in db.query("PRAGMA table_info(usage)")}
    assert set(table) == set(COLUMN_NAMES)
    for column in USAGE_COLUMNS:
        info = table[column.name]
        assert info["type"] == column.sql.split()[0], column.name
        assert bool(info["notnull"]) == ("NOT NULL" in column.sql), column.name
        assert bool(info["pk"]) == ("PRIMARY KEY" in column.sql), column.name
        nullable = isinstance(column.type, types.UnionType) and type(None) in column.type.__args__
        assert nullable == (not info["notnull"] and not info["pk"]), column.name


def test_the_csv_header_and_its_neutralised_text_are_as_released() -> None:
    assert ",".join(COLUMNS) == RELEASED_HEADER
    assert {c.csv for c in USAGE_COLUMNS if c.free_text} == {
        "project", "tag", "backend", "provider", "model", "request_id", "requested_model",
        "price_source", "client", "route"}  # fmt: skip


def test_a_recorded_row_comes_back_whole(ledger: Ledger) -> None:
    row_id = ledger.record(result(), conversation_id=None, message_id=None, project="acme",
                           tag="t", created_at=T0, client="editor")  # fmt: skip
    row = ledger.get(row_id)
    assert row is not None and row == ledger.rows()[0]
    assert (row.id, row.created_at, row.project, row.tag, row.client) == (
        row_id, T0, "acme", "t", "editor")  # fmt: skip
    assert (row.provider, row.prompt_tokens, row.completion_tokens) == ("mistral", 1000, 500)
    assert row.cost_source == "priced" and row.cost is not None and row.local_day
    assert tuple(row.to_dict()) == COLUMN_NAMES == tuple(
        f.name for f in dataclasses.fields(UsageRow))  # fmt: skip


def _fill(ledger: Ledger) -> list[int]:
    ids = []
    for i, (provider, completion, duration) in enumerate(
        [("acme", 50, 1.0), ("mistral", 500, 2.0), ("acme", 9, 3.0), ("mistral", 1, 0.5),
         ("globex", 200, 0.0)]
    ):  # fmt: skip
        r = dataclasses.replace(result(provider=provider, backend=provider, completion=completion,
                                       duration_s=duration), ttft_s=0.1)  # fmt: skip
        ids.append(ledger.record(r, conversation_id=None, message_id=None,
                                 created_at=T0 + i))  # fmt: skip
    return ids


def test_the_requests_table_pages_sorts_and_filters_typed_rows(
    ledger: Ledger, db: Database
) -> None:
    ids = _fill(ledger)
    table = RequestsTable(db)
    everything = RequestsQuery(T0, T0 + 10)
    assert table.count(everything) == 5
    assert table.count(RequestsQuery(T0, T0 + 10, "acme")) == 2
    assert table.count(RequestsQuery(T0 + 1, T0 + 3)) == 2
    newest = table.page(everything, 0)
    assert [r.id for r in newest] == ids[::-1]
    assert all(isinstance(r, UsageRow) for r in newest)
    pages = [table.page(everything, n, sort="created_at", descending=False, size=2)
             for n in range(3)]  # fmt: skip
    assert [[r.id for r in p] for p in pages] == [ids[:2], ids[2:4], ids[4:]]
    assert table.page(everything, 3, size=2) == ()
    by_speed = table.page(everything, 0, sort="tokens_per_second")
    speeds = [r.tokens_per_second for r in by_speed]
    assert speeds == [tokens_per_second(r.completion_tokens, r.duration_s, r.ttft_s)
                      for r in by_speed]  # fmt: skip
    known = [s for s in speeds if s is not None]
    assert known == sorted(known, reverse=True) and speeds[len(known):] == [None, None]
    by_tokens = table.page(everything, 0, sort="tokens", descending=False)
    totals = [r.prompt_tokens + r.completion_tokens for r in by_tokens]
    assert totals == sorted(totals)
    assert [r.provider for r in table.page(RequestsQuery(T0, T0 + 10, "acme"), 0)] == ["acme"] * 2


def test_the_requests_table_sorts_only_by_what_it_knows(db: Database) -> None:
    assert {"created_at", "cost", "tokens", "tokens_per_second"} <= SORT_KEYS
    with pytest.raises(ValueError, match="can't sort by"):
        RequestsTable(db).page(RequestsQuery(0, 1), 0, sort="cost; DROP TABLE usage")
