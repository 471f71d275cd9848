"""Model sources by name. Factories run on first use, so a cloud SDK loads only when needed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.core.foundation.errors import UnknownTargetError

if TYPE_CHECKING:
    from collections.abc import Callable

    from app.core.llm.contract import Backend


class BackendRegistry:
    def __init__(self) -> None:
        self._factories: dict[str, Callable[[], Backend]] = {}
        self._backends: dict[str, Backend] = {}

    def register(self, name: str, factory: Callable[[], Backend]) -> None:
        self._factories[name] = factory
        self._backends.pop(name, None)

    def names(self) -> list[str]:
        return list(self._factories)

    def get(self, name: str) -> Backend:
        """The source called `name`; raise `UnknownTargetError` listing the known names."""
        if name not in self._backends:
            if name not in self._factories:
                known = ", ".join(self._factories) or "none"
                raise UnknownTargetError(
                    f"There is no backend called '{name}'.", f"Known backends: {known}."
                )
            self._backends[name] = self._factories[name]()
        return self._backends[name]

    def loaded(self) -> list[Backend]:
        return list(self._backends.values())
