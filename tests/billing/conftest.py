"""Billing fixtures: a real SQLite database in tmp_path and a ledger with no energy meters."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from app.core.billing.energy import EnergyMonitor
from app.core.billing.ledger import Ledger
from app.core.llm.contract import GenerationResult, Outcome, TokenSource, Usage
from app.core.schema import open_database

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from app.core.foundation.storage import Database


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(tmp_path / "billing.db")
    yield database
    database.close()


@pytest.fixture
def ledger(db: Database) -> Ledger:
    return Ledger(db, monitor=EnergyMonitor([]))


def result(
    backend: str = "mistral",
    provider: str = "mistral",
    model: str = "mistral-small-2506",
    prompt: int = 1000,
    completion: int = 500,
    duration_s: float = 2.0,
    outcome: Outcome = Outcome.DONE,
) -> GenerationResult:
    return GenerationResult(
        text="hi",
        outcome=outcome,
        usage=Usage(prompt, completion, TokenSource.REPORTED),
        backend=backend,
        provider=provider,
        model=model,
        ttft_s=0.1,
        duration_s=duration_s,
    )
