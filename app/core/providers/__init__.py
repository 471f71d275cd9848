"""Cloud providers: kinds as data (kinds.py), configs in SQLite, keys in the OS keyring,
OpenAI-style streaming.
May use foundation, chat (backend interface, service, targets) and billing's ledger; never local."""

# The names below load on first use (PEP 562): start-up needs only the provider
# configs for the model control, not the service, the retry logic or httpx.
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.core.llm.token_estimate import estimate_prompt_tokens, estimate_tokens
    from app.core.providers._common import RetryPolicy, check_key_scope
    from app.core.providers._config import (
        ProviderConfig,
        ProviderStore,
        defaults_for,
        is_loopback,
        url_origin,
    )
    from app.core.providers._errors import (
        AuthError,
        ConnectFailedError,
        ConnectionDroppedError,
        EmptyAnswerError,
        KeyScopeError,
        MalformedStreamError,
        MissingKeyError,
        NoKeyringError,
        OfflineError,
        OutOfCreditsError,
        ProviderConfigError,
        ProviderError,
        RateLimitError,
        ServerError,
        StreamErrorEvent,
        StreamTimeoutError,
        UnknownModelError,
    )
    from app.core.providers._hf import HFBackend, routed_model
    from app.core.providers._openai import OpenAICompatBackend
    from app.core.providers._router import RouterOffer, fetch_offers, parse_offers
    from app.core.providers._service import ProviderService
    from app.core.providers._wiring import make_backend, provider_options, register_providers
    from app.core.providers.kinds import (
        HF_DEFAULT_MODEL,
        HF_POLICIES,
        HF_ROUTER_URL,
        MISTRAL_DEFAULT_MODEL,
        MISTRAL_URL,
        Kind,
        ProviderKind,
        Wire,
        all_kinds,
        find_kind,
        kind_names,
        parse_kind,
    )

_HOMES = {
    "app.core.providers._common": ("RetryPolicy", "check_key_scope"),
    "app.core.providers._config": (
        "ProviderConfig",
        "ProviderStore",
        "defaults_for",
        "is_loopback",
        "url_origin",
    ),
    "app.core.providers.kinds": (
        "HF_DEFAULT_MODEL",
        "HF_POLICIES",
        "HF_ROUTER_URL",
        "MISTRAL_DEFAULT_MODEL",
        "MISTRAL_URL",
        "Kind",
        "ProviderKind",
        "Wire",
        "all_kinds",
        "find_kind",
        "kind_names",
        "parse_kind",
    ),
    "app.core.providers._errors": (
        "AuthError",
        "ConnectFailedError",
        "ConnectionDroppedError",
        "EmptyAnswerError",
        "KeyScopeError",
        "MalformedStreamError",
        "MissingKeyError",
        "NoKeyringError",
        "OfflineError",
        "OutOfCreditsError",
        "ProviderConfigError",
        "ProviderError",
        "RateLimitError",
        "ServerError",
        "StreamErrorEvent",
        "StreamTimeoutError",
        "UnknownModelError",
    ),
    # These import httpx / huggingface_hub: a local-only session never pays for them.
    "app.core.providers._hf": ("HFBackend", "routed_model"),
    "app.core.providers._openai": ("OpenAICompatBackend",),
    "app.core.providers._router": ("RouterOffer", "fetch_offers", "parse_offers"),
    "app.core.providers._service": ("ProviderService",),
    "app.core.providers._wiring": ("make_backend", "provider_options", "register_providers"),
    "app.core.llm.token_estimate": ("estimate_prompt_tokens", "estimate_tokens"),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [
    "HF_DEFAULT_MODEL",
    "HF_POLICIES",
    "HF_ROUTER_URL",
    "MISTRAL_DEFAULT_MODEL",
    "MISTRAL_URL",
    "AuthError",
    "ConnectFailedError",
    "ConnectionDroppedError",
    "EmptyAnswerError",
    "HFBackend",
    "KeyScopeError",
    "Kind",
    "MalformedStreamError",
    "MissingKeyError",
    "NoKeyringError",
    "OfflineError",
    "OpenAICompatBackend",
    "OutOfCreditsError",
    "ProviderConfig",
    "ProviderConfigError",
    "ProviderError",
    "ProviderKind",
    "ProviderService",
    "ProviderStore",
    "RateLimitError",
    "RetryPolicy",
    "RouterOffer",
    "ServerError",
    "StreamErrorEvent",
    "StreamTimeoutError",
    "UnknownModelError",
    "Wire",
    "all_kinds",
    "check_key_scope",
    "defaults_for",
    "estimate_prompt_tokens",
    "estimate_tokens",
    "fetch_offers",
    "find_kind",
    "is_loopback",
    "kind_names",
    "make_backend",
    "parse_kind",
    "parse_offers",
    "provider_options",
    "register_providers",
    "routed_model",
    "url_origin",
]


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_MODULE_OF[name]), name)


def __dir__() -> list[str]:
    return list(__all__)
