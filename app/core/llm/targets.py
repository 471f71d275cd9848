"""Where a turn goes: a backend name and a model, written `backend:model`."""

from __future__ import annotations

from dataclasses import dataclass

LOCAL = "local"
AUTO = "auto"  # the router picks the target per request (issue 16)


@dataclass(frozen=True, slots=True)
class Target:
    backend: str
    model: str

    def __str__(self) -> str:
        return f"{self.backend}:{self.model}"

    @classmethod
    def parse(cls, text: str, default_backend: str = LOCAL) -> Target:
        backend, sep, model = text.partition(":")
        if not sep:
            return cls(default_backend, text)
        return cls(backend or default_backend, model)


@dataclass(frozen=True, slots=True)
class TargetOption:
    """One entry of the model control: where a turn can go, grouped for display."""

    target: Target
    label: str
    group: str  # "Local models", or a provider's display name
    available: bool = True
    reason: str = ""  # why it is unavailable (offline mode, missing key, ...)
    detail: str = ""  # a short line under the label: size, price, context


@dataclass(frozen=True, slots=True)
class Route:
    """One target a routing source (`auto`) will try, with why it was chosen."""

    target: Target
    reason: str
