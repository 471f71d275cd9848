"""What the CLI and the Providers dialog do: add, edit, key, test, remove."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from app.core.llm.contract import (
    Backend,
    ChatMessage,
    GenerationRequest,
    GenerationResult,
    Sampling,
)
from app.core.llm.targets import Target
from app.core.providers._common import check_key_scope
from app.core.providers._config import ProviderConfig, ProviderStore, url_origin
from app.core.providers._errors import ProviderConfigError, ProviderError
from app.core.providers._wiring import make_backend, register_providers

if TYPE_CHECKING:
    from collections.abc import Callable

    from app.core.llm.registry import BackendRegistry
    from app.core.providers._router import RouterOffer
    from app.core.providers.kinds import Kind
    from app.core.providers.secrets import KeyStore

logger = logging.getLogger(__name__)

PROBE_PROMPT = "Reply with the single word OK."
PROBE_TAG = "connection-test"

# Sends one request through the app's one exchange (policy, budgets, ledger row) and
# returns its result, raising the `ParleyError` it failed with: the composition root's.
type Probe = Callable[[Target, GenerationRequest, str, threading.Event | None], GenerationResult]


@dataclass(frozen=True, slots=True)
class ProbeReport:
    """What `Test connection` found: a real answer, and the models the provider lists."""

    result: GenerationResult
    models: tuple[str, ...]
    models_error: str | None

    @property
    def summary(self) -> str:
        r = self.result
        ttft = f"{r.ttft_s:.2f} s" if r.ttft_s is not None else "?"
        return (
            f"OK: {r.model} answered {r.text.strip()[:40]!r} in {r.duration_s:.2f} s "
            f"(first token {ttft}; {r.usage.prompt_tokens}+{r.usage.completion_tokens} tokens, "
            f"{r.usage.source})."
        )


class ProviderService:
    def __init__(
        self,
        store: ProviderStore,
        keys: KeyStore,
        registry: BackendRegistry,
        probe: Probe,
        is_offline: Callable[[], bool],
    ) -> None:
        self.store = store
        self.keys = keys
        self.registry = registry
        self._probe = probe
        self.is_offline = is_offline

    def configs(self) -> list[ProviderConfig]:
        return self.store.list()

    def get(self, name: str) -> ProviderConfig:
        return self.store.get(name)

    def add(
        self,
        name: str,
        kind: Kind | str,
        *,
        base_url: str | None = None,
        model: str | None = None,
        hf_provider: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> ProviderConfig:
        config = self.store.add(
            name, kind, base_url=base_url, model=model, hf_provider=hf_provider, options=options
        )
        self._reregister()
        return config

    def update(self, config: ProviderConfig) -> ProviderConfig:
        config = self.store.update(config)
        self._reregister()
        return config

    def set_key(self, name: str, key: str) -> None:
        config = self.store.get(name)
        # Refuse now, not at the first chat, to bind a key to plain http off this machine.
        check_key_scope(replace(config, key_host=None))
        self.keys.set(name, key)
        self.store.set_key_host(name, url_origin(config.base_url))
        self._reregister()

    def clear_key(self, name: str) -> None:
        self.store.get(name)
        self.keys.delete(name)
        self.store.set_key_host(name, None)
        self._reregister()

    def remove(self, name: str) -> None:
        config = self.store.get(name)
        if config.has_key:
            self.keys.delete(name)
        self.store.remove(name)
        self.registry.register(name, _gone(name))  # drops the cached backend too

    def test(self, name: str, cancel: threading.Event | None = None) -> ProbeReport:
        """Send a real minimal request; raise the exact `ProviderError` when it fails."""
        config = self.store.get(name)
        self._reregister()  # the probe runs on the configuration as saved now
        request = GenerationRequest(
            (ChatMessage("user", PROBE_PROMPT),),
            Sampling(temperature=0.0, max_tokens=8),
            config.model,
        )
        # It costs tokens, so it goes in the ledger, tagged so Billing can tell it apart.
        result = self._probe(Target(name, config.model), request, PROBE_TAG, cancel)
        backend = make_backend(config, self.keys, self.is_offline)
        models: list[str] = []
        models_error: str | None = None
        if not config.kind.hf_router:  # the router lists offers, not this provider's models
            try:
                models = backend.list_models()
            except ProviderError as exc:
                models_error = str(exc)
            else:
                self.store.set_options(name, models=models[:200])
        return ProbeReport(result, tuple(models), models_error)

    def offers(self, name: str, model: str | None = None) -> list[RouterOffer]:
        """HF kind: the providers the router lists for the model (status, price, speed)."""
        from app.core.providers._common import Guard
        from app.core.providers._router import fetch_offers

        config = self.store.get(name)
        if not config.kind.hf_router:
            raise ProviderError(f"{config.display_name} is not a Hugging Face provider.")
        return fetch_offers(Guard(config, self.keys, self.is_offline), model or config.model)

    def _reregister(self) -> None:
        register_providers(self.registry, self.store, self.keys, self.is_offline)


def _gone(name: str) -> Callable[[], Backend]:
    def factory() -> Backend:
        raise ProviderConfigError(
            f"The provider '{name}' was removed.", "Pick another model in the model control."
        )

    return factory
