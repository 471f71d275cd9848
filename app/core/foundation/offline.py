"""Parley's offline mode, readable from any network code without a settings handle.

AppContext.open installs the live check (the user's setting); code that talks
to the network asks `offline_mode()` on every call, so a change applies at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable


def _never() -> bool:
    return False


_check: Callable[[], bool] = _never


def install(check: Callable[[], bool]) -> None:
    global _check
    _check = check


def uninstall(check: Callable[[], bool]) -> None:
    """The context that installed `check` is closing: its settings are gone with it."""
    global _check
    if _check == check:  # ==, not `is`: each `ctx.is_offline` is a new bound method
        _check = _never


def offline_mode() -> bool:
    return _check()
