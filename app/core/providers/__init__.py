"""Cloud providers: configs in SQLite, keys in the OS keyring, OpenAI-style streaming."""

from typing import TYPE_CHECKING, Any

from app.core.providers._common import RetryPolicy, check_key_scope
from app.core.providers._config import (
    HF_DEFAULT_MODEL,
    HF_POLICIES,
    HF_ROUTER_URL,
    MISTRAL_DEFAULT_MODEL,
    MISTRAL_URL,
    ProviderConfig,
    ProviderKind,
    ProviderStore,
    defaults_for,
    is_loopback,
    parse_kind,
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
from app.core.providers._service import ProviderService
from app.core.providers._wiring import (
    make_backend,
    provider_options,
    register_providers,
)
from app.core.token_estimate import estimate_prompt_tokens, estimate_tokens

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
    "check_key_scope",
    "defaults_for",
    "estimate_prompt_tokens",
    "estimate_tokens",
    "fetch_offers",
    "is_loopback",
    "make_backend",
    "parse_kind",
    "parse_offers",
    "provider_options",
    "register_providers",
    "routed_model",
    "url_origin",
]

# The streaming backends and the router client import httpx / huggingface_hub: loaded on
# first use, so opening Parley for a local chat doesn't pay for them.
_LAZY = {
    "HFBackend": "app.core.providers._hf",
    "routed_model": "app.core.providers._hf",
    "OpenAICompatBackend": "app.core.providers._openai",
    "RouterOffer": "app.core.providers._router",
    "fetch_offers": "app.core.providers._router",
    "parse_offers": "app.core.providers._router",
}

if TYPE_CHECKING:
    from app.core.providers._hf import HFBackend, routed_model
    from app.core.providers._openai import OpenAICompatBackend
    from app.core.providers._router import RouterOffer, fetch_offers, parse_offers


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
