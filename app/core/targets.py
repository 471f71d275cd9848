"""Where a turn goes: a backend name and a model, written `backend:model`."""

from __future__ import annotations

from dataclasses import dataclass

LOCAL = "local"


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
