from __future__ import annotations

import csv
import json
from typing import TYPE_CHECKING

from app.cli import main
from app.core.context import AppContext
from tests.billing.conftest import result

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def _seed(data: Path) -> None:
    ctx = AppContext.open(data)
    ctx.ledger.record(result(), conversation_id=None, message_id=None, created_at=1_700_000_000)
    ctx.ledger.record(result(provider="acme", backend="acme", model="x"),
                      conversation_id=None, message_id=None)  # fmt: skip
    ctx.close()


def test_usage_json_carries_cost_fields(
    isolated_dirs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _seed(isolated_dirs)
    assert main(["usage", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["cost_source"] for r in rows} == {"priced", "no price"}
    unpriced = next(r for r in rows if r["cost_source"] == "no price")
    assert unpriced["cost"] is None and unpriced["currency"] is None
    priced = next(r for r in rows if r["cost_source"] == "priced")
    assert priced["currency"] == "USD" and priced["cost"] > 0


def test_usage_export_writes_csv(
    isolated_dirs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _seed(isolated_dirs)
    out = tmp_path / "out.csv"
    assert main(["usage", "export", str(out), "--since", "2026-01-01"]) == 0
    with out.open(encoding="utf-8", newline="") as f:
        assert len(list(csv.DictReader(f))) == 1
    assert main(["usage", "export", str(tmp_path)]) == 1
    assert "Couldn't write the CSV file" in capsys.readouterr().err
    assert main(["usage", "export", str(out), "--until", "soon"]) == 1


def test_prices_set_validates_and_prices_old_rows(
    isolated_dirs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _seed(isolated_dirs)
    for bad in ("-1", "nan", "inf", "1e9"):
        assert main(["prices", "set", "acme", "x", "--input", bad, "--output", "1"]) == 1
        err = capsys.readouterr().err
        assert err.startswith("parley: The input price") and err.count("\n") == 1
    assert main(["prices", "set", "acme", "x", "--input", "1", "--output", "2"]) == 0
    assert "Priced 1 earlier request" in capsys.readouterr().err
    assert main(["prices", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert any(p["provider"] == "acme" and p["user_override"] for p in listed)


def test_budget_set_and_show(isolated_dirs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["budget", "set", "--amount", "5", "--period", "month", "--provider",
                 "mistral", "--hard"]) == 0  # fmt: skip
    assert main(["budget", "set", "--amount", "2", "--period", "day", "--project", "acme"]) == 0
    assert main(["budget", "set", "--amount", "-2", "--period", "day"]) == 1
    capsys.readouterr()
    assert main(["budget", "show", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [(b["scope"], b["name"], b["hard"]) for b in shown] == [
        ("provider", "mistral", True), ("project", "acme", False)]
    assert shown[0]["spent"] == 0


def test_prices_local_sets_and_validates(
    isolated_dirs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["prices", "local", "--per-kwh", "0.3", "--watts", "200", "--compare",
                 "deepinfra", "mistralai/Mistral-Small-3.2-24B-Instruct-2506", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["electricity_per_kwh"] == 0.3 and shown["device_watts"] == 200
    assert shown["compare_provider"] == "deepinfra"
    assert main(["prices", "local", "--per-kwh", "-1"]) == 1
    assert "can't be negative" in capsys.readouterr().err
