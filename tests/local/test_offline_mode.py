"""Parley's offline mode (Settings) stops model search and downloads, not only HF_HUB_OFFLINE."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from app.core.foundation.errors import ParleyError
from app.core.foundation.settings import OFFLINE_MODE
from app.core.local import hub

if TYPE_CHECKING:
    from app.core.context import AppContext


def test_offline_mode_refuses_hub_calls_with_a_clear_message(ctx: AppContext) -> None:
    ctx.settings.set(OFFLINE_MODE, True)
    with pytest.raises(ParleyError, match="Offline mode is on"):
        hub.search("mistral")
    ctx.settings.set(OFFLINE_MODE, False)
    assert not hub.offline()
