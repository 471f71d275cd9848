"""Fixtures shared by the window's tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from app.ui.chat import ChatTab
from app.workers import WorkerPool

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pytestqt.qtbot import QtBot

    from app.core.context import AppContext


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    """The worker pool, shut down after the test (a test that closes its window may have
    shut it down already)."""
    workers = WorkerPool()
    yield workers
    workers.shutdown()


@pytest.fixture
def tab(qtbot: QtBot, ctx: AppContext, pool: WorkerPool) -> Iterator[ChatTab]:
    """The real Chat tab, shown at a desktop size; its turn is stopped and stored after."""
    widget = ChatTab(ctx, pool)
    qtbot.addWidget(widget)
    widget.resize(1000, 700)
    widget.show()
    yield widget
    widget.shutdown()
