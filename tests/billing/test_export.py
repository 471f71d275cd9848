from __future__ import annotations

import csv
import datetime as dt
import re
from typing import TYPE_CHECKING

import pytest

from app.core.billing.errors import ExportError
from app.core.billing.export import COLUMNS, export_csv, parse_date
from tests.billing.conftest import result

if TYPE_CHECKING:
    from pathlib import Path

    from app.core.billing.ledger import Ledger
    from app.core.foundation.storage import Database

KEY_LIKE = re.compile(r"sk-[A-Za-z0-9]{8,}|hf_[A-Za-z0-9]{8,}|Bearer |api[_-]?key", re.I)
T0 = dt.datetime(2026, 3, 1, 12, 30, tzinfo=dt.UTC).timestamp()


def _fill(ledger: Ledger) -> None:
    ledger.record(result(), conversation_id=None, message_id=None, created_at=T0,
                  project='Café "Ünïcode", client')  # fmt: skip
    ledger.record(result(provider="acme", backend="acme", model="x\ny"),
                  conversation_id=None, message_id=None, created_at=T0 + 86_400)  # fmt: skip
    ledger.record(result(backend="local"), conversation_id=None, message_id=None,
                  created_at=T0 + 2 * 86_400)  # fmt: skip


def test_csv_round_trips_with_the_csv_module(ledger: Ledger, db: Database, tmp_path: Path) -> None:
    _fill(ledger)
    out = tmp_path / "ledger.csv"
    assert export_csv(db, out).rows == 3
    raw = out.read_bytes()
    assert b"\r\n" in raw  # RFC 4180 line ends
    raw.decode("utf-8")
    with out.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == COLUMNS
    assert [r["time_utc"] for r in rows] == [
        "2026-03-01T12:30:00.000Z", "2026-03-02T12:30:00.000Z", "2026-03-03T12:30:00.000Z"]
    assert rows[0]["project"] == 'Café "Ünïcode", client'
    assert rows[1]["model"] == "x\ny"
    assert rows[1]["cost"] == "" and rows[1]["cost_source"] == "no price"
    assert float(rows[0]["cost"]) == pytest.approx((1000 * 0.1 + 500 * 0.3) / 1e6)
    assert rows[2]["cost_source"] == "energy estimated"
    assert not KEY_LIKE.search(raw.decode("utf-8"))


def test_since_and_until_pick_whole_utc_days(ledger: Ledger, db: Database, tmp_path: Path) -> None:
    _fill(ledger)
    out = tmp_path / "some.csv"
    got = export_csv(db, out, since=parse_date("2026-03-02"), until=parse_date("2026-03-02",
                                                                               end=True))
    assert got.rows == 1


@pytest.mark.parametrize("make", ["folder", "missing", "under_file"])
def test_unwritable_path_gives_a_clear_message(db: Database, tmp_path: Path, make: str) -> None:
    target = {
        "folder": tmp_path,
        "missing": tmp_path / "no" / "such" / "x.csv",
        "under_file": tmp_path / "billing.db" / "x.csv",
    }[make]
    with pytest.raises(ExportError, match=r"Couldn't write the CSV file .*: .*\. Choose another"):
        export_csv(db, target)


def test_bad_dates_are_rejected() -> None:
    with pytest.raises(ExportError, match="is not a date"):
        parse_date("yesterday")


def test_fast_and_quoted_chunks_agree_with_the_csv_module(
    ledger: Ledger, db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.core.billing.export as export

    monkeypatch.setattr(export, "CHUNK_IDS", 2)  # chunks of two rows: both paths in one file
    projects = ["plain", "plain", 'has "quote"', "plain", "line\r\nbreak", None, "x\x1fy"]
    for i, project in enumerate(projects):
        ledger.record(result(prompt=i), conversation_id=None, message_id=None,
                      created_at=T0 + i, project=project)  # fmt: skip
    out = tmp_path / "mixed.csv"
    assert export_csv(db, out).rows == len(projects)
    with out.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["project"] for r in rows] == [p or "" for p in projects]
    assert [int(r["prompt_tokens"]) for r in rows] == list(range(len(projects)))
    assert all(r["cost_source"] == "priced" and float(r["cost"]) > 0 for r in rows)
