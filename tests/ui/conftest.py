"""Fixtures shared by the window's tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from app.workers import WorkerPool

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    """The worker pool, shut down after the test (a test that closes its window may have
    shut it down already)."""
    workers = WorkerPool()
    yield workers
    workers.shutdown()
