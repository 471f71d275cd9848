from __future__ import annotations

import statistics
import time
from typing import TYPE_CHECKING

import pytest

from app.core.billing.costs import (
    COMPARE_MODEL,
    COMPARE_PROVIDER,
    DEVICE_WATTS,
    ELECTRICITY_PER_KWH,
    HARDWARE_HOURS,
    HARDWARE_PRICE,
    reprice_unpriced,
)
from app.core.billing.currency import set_rate
from app.core.billing.energy import EnergyMonitor, RaplMeter
from app.core.billing.ledger import Ledger
from app.core.llm.contract import Outcome
from tests.billing.conftest import result

if TYPE_CHECKING:
    from pathlib import Path

    from app.core.foundation.storage import Database


def test_cloud_cost_is_stored_with_the_price_used(ledger: Ledger) -> None:
    row_id = ledger.record(result(prompt=2_000_000, completion=1_000_000),
                           conversation_id=None, message_id=None)  # fmt: skip
    row = ledger.get(row_id)
    assert row is not None
    assert row.cost_source == "priced"
    assert row.cost == pytest.approx(2 * 0.10 + 1 * 0.30)
    assert (row.price_input, row.price_output, row.currency) == (0.10, 0.30, "USD")


def test_history_does_not_change_when_the_price_does(ledger: Ledger) -> None:
    first = ledger.record(result(), conversation_id=None, message_id=None)
    ledger.prices.set("mistral", "mistral-small-2506", 10.0, 20.0)
    second = ledger.record(result(), conversation_id=None, message_id=None)
    a, b = ledger.get(first), ledger.get(second)
    assert a is not None and b is not None
    assert a.price_input == 0.10 and b.price_input == 10.0
    assert b.cost is not None and a.cost is not None and b.cost > 50 * a.cost


def test_unknown_model_says_no_price_and_can_be_priced_later(ledger: Ledger, db: Database) -> None:
    row_id = ledger.record(result(provider="acme", backend="acme", model="big-1"),
                           conversation_id=None, message_id=None)  # fmt: skip
    row = ledger.get(row_id)
    assert row is not None
    assert row.cost is None  # never a silent zero
    assert row.cost_source == "no price"
    ledger.prices.set("acme", "big-1", 1.0, 2.0)
    assert reprice_unpriced(db, ledger.prices) == 1
    row = ledger.get(row_id)
    assert row is not None
    assert row.cost_source == "priced"
    assert row.cost == pytest.approx((1000 * 1.0 + 500 * 2.0) / 1e6)


def test_local_cost_is_estimated_from_wattage_duration_and_kwh_price(ledger: Ledger) -> None:
    ledger.settings.set(DEVICE_WATTS, 360.0)
    ledger.settings.set(ELECTRICITY_PER_KWH, 0.5)
    local = result(backend="local", provider="llama.cpp", model="smol", duration_s=10.0)
    row_id = ledger.record(local, conversation_id=None, message_id=None)
    row = ledger.get(row_id)
    assert row is not None
    assert row.cost_source == "energy estimated"
    assert row.energy_wh == pytest.approx(1.0)  # 360 W for 10 s
    assert row.cost == pytest.approx(0.0005)
    # Saving against the comparison model (Mistral Small 3.2 on Mistral's API by default).
    assert row.compare_cost == pytest.approx((1000 * 0.10 + 500 * 0.30) / 1e6)


def test_hardware_amortisation_is_added_when_set(ledger: Ledger) -> None:
    ledger.settings.set(DEVICE_WATTS, 0.0)
    ledger.settings.set(HARDWARE_PRICE, 3600.0)
    ledger.settings.set(HARDWARE_HOURS, 1000.0)
    row_id = ledger.record(result(backend="local", duration_s=3600.0),
                           conversation_id=None, message_id=None)  # fmt: skip
    row = ledger.get(row_id)
    assert row is not None and row.cost == pytest.approx(3.6)


def _rapl(root: Path, uj: int) -> None:
    zone = root / "intel-rapl:0"
    zone.mkdir(parents=True, exist_ok=True)
    (zone / "energy_uj").write_text(str(uj))
    (zone / "max_energy_range_uj").write_text("1000000000")


def test_local_energy_is_measured_from_rapl_counters(db: Database, tmp_path: Path) -> None:
    root = tmp_path / "powercap"
    _rapl(root, 999_000_000)  # near the wrap point
    ledger = Ledger(db, monitor=EnergyMonitor([RaplMeter(root)]))
    ledger.settings.set(ELECTRICITY_PER_KWH, 1.0)
    reservation = ledger.reserve(backend="local", provider="llama.cpp", model="smol",
                                 project=None, prompt_tokens=0, token_source="estimated",
                                 max_tokens=10, is_local=True)  # fmt: skip
    _rapl(root, 2_600_000)  # wrapped: 1,000,000 + 2,600,000 uJ = 3.6 J
    row_id = ledger.settle(reservation, result(backend="local"), conversation_id=None,
                           message_id=None)  # fmt: skip
    row = ledger.get(row_id)
    assert row is not None
    assert row.cost_source == "energy measured"
    assert row.energy_wh == pytest.approx(3.6 / 3600)
    assert row.cost == pytest.approx(3.6 / 3600 / 1000)


def test_comparison_in_another_currency_is_converted_at_the_users_rate(ledger: Ledger) -> None:
    """Issue 14: currencies convert at the user's rates instead of being dropped."""
    ledger.prices.set("mistral", "mistral-small-2506", 0.1, 0.3, currency="EUR")
    ledger.settings.set(COMPARE_PROVIDER, "mistral")
    ledger.settings.set(COMPARE_MODEL, "mistral-small-2506")
    set_rate(ledger.settings, "EUR", 2.0)
    row_id = ledger.record(result(backend="local"), conversation_id=None, message_id=None)
    row = ledger.get(row_id)
    assert row is not None
    assert row.currency == "USD"
    # 1,000 prompt + 500 completion tokens at EUR 0.1 / 0.3 per M = EUR 0.00025 = USD 0.0005.
    assert row.compare_cost == pytest.approx(0.0005)


def test_interrupted_rows_are_costed_too(ledger: Ledger) -> None:
    row_id = ledger.record(result(outcome=Outcome.INTERRUPTED, prompt=0, completion=12),
                           conversation_id=None, message_id=None)  # fmt: skip
    row = ledger.get(row_id)
    assert row is not None and row.cost_source == "priced" and row.outcome == "interrupted"


def test_recording_a_row_adds_at_most_2_ms(ledger: Ledger) -> None:
    cloud, local = result(), result(backend="local")
    times = []
    for i in range(200):
        start = time.perf_counter()
        ledger.record(cloud if i % 2 else local, conversation_id=None, message_id=None)
        times.append(time.perf_counter() - start)
    assert statistics.median(times) < 0.002
