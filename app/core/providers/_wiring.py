"""Providers as backends in the registry and as entries of the model control."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.core.llm.targets import Target, TargetOption
from app.core.providers._errors import ProviderConfigError
from app.core.providers.kinds import Wire

if TYPE_CHECKING:
    from collections.abc import Callable

    from app.core.llm.contract import Backend
    from app.core.llm.registry import BackendRegistry
    from app.core.providers._config import ProviderConfig, ProviderStore
    from app.core.providers._hf import HFBackend
    from app.core.providers._openai import OpenAICompatBackend
    from app.core.providers.secrets import KeyStore


def make_backend(
    config: ProviderConfig, keys: KeyStore, is_offline: Callable[[], bool]
) -> OpenAICompatBackend | HFBackend:
    # Imported here: they pull in httpx, which a local-only session
    # never needs.
    from app.core.providers._hf import HFBackend
    from app.core.providers._openai import OpenAICompatBackend

    match config.kind.wire:
        case Wire.OPENAI:
            return OpenAICompatBackend(config, keys, is_offline)
        case Wire.HF_ROUTER:
            return HFBackend(config, keys, is_offline)
        case None:
            raise ProviderConfigError(
                f"This Parley doesn't know {config.name}'s provider kind "
                f"('{config.kind.name}'): a newer Parley added it.",
                f"Update Parley, or remove it with `parley providers remove {config.name}`.",
            )


def register_providers(
    registry: BackendRegistry,
    store: ProviderStore,
    keys: KeyStore,
    is_offline: Callable[[], bool],
) -> None:
    """(Re-)register every configured provider under its name; call again after edits."""
    for config in store.list():
        registry.register(config.name, _factory(store, config.name, keys, is_offline))


def _factory(
    store: ProviderStore, name: str, keys: KeyStore, is_offline: Callable[[], bool]
) -> Callable[[], Backend]:
    # Read the config when first used, so an edit made after start-up is honoured.
    return lambda: make_backend(store.get(name), keys, is_offline)


def provider_options(store: ProviderStore, offline: bool) -> list[TargetOption]:
    """Each provider's default and cached models, grouped; unavailable ones say why."""
    options: list[TargetOption] = []
    for config in store.list():
        reason = ""
        if offline:
            reason = "Offline mode is on"
        elif config.kind.wire is None:
            reason = f"Unknown provider kind '{config.kind.name}': update Parley"
        elif not config.has_key and config.kind.key_required:
            reason = f"No API key: run `parley providers set-key {config.name}`"
        models = [config.model, *(m for m in config.cached_models if m != config.model)]
        for model in filter(None, models):
            detail = config.hf_provider if config.kind.hf_router else ""
            options.append(
                TargetOption(
                    Target(config.name, model),
                    model,
                    config.display_name,
                    available=not reason,
                    reason=reason,
                    detail=detail,
                )
            )
    return options
