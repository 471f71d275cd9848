"""Parley's typed errors as OpenAI-style HTTP errors: the status a client's retry logic reads."""

from __future__ import annotations

from app.core.billing.errors import BudgetExceededError
from app.core.exchange import LocalOnlyError
from app.core.foundation.errors import (
    ModelError,
    ParleyError,
    PromptTooLongError,
    UnknownTargetError,
)
from app.core.gateway.openai_api import ApiError
from app.core.providers._errors import (
    AuthError,
    ConnectFailedError,
    ConnectionDroppedError,
    KeyScopeError,
    MissingKeyError,
    NoKeyringError,
    OfflineError,
    OutOfCreditsError,
    ProviderConfigError,
    RateLimitError,
    StreamTimeoutError,
    UnknownModelError,
)
from app.core.routing.router import NoRouteError

# (status, OpenAI error type, code) by Parley's error class; the first match wins.
_STATUS: tuple[tuple[type[ParleyError], int, str, str], ...] = (
    (BudgetExceededError, 402, "insufficient_quota", "budget_exceeded"),
    (LocalOnlyError, 403, "permission_error", "kept_local"),
    (OutOfCreditsError, 402, "insufficient_quota", "upstream_out_of_credits"),
    (UnknownTargetError, 404, "invalid_request_error", "model_not_found"),
    (UnknownModelError, 404, "invalid_request_error", "model_not_found"),
    (PromptTooLongError, 400, "invalid_request_error", "context_length_exceeded"),
    (RateLimitError, 429, "rate_limit_error", "upstream_rate_limited"),
    (StreamTimeoutError, 504, "server_error", "upstream_timeout"),
    (ConnectFailedError, 502, "server_error", "upstream_unreachable"),
    (ConnectionDroppedError, 502, "server_error", "upstream_dropped"),
    (AuthError, 502, "server_error", "upstream_auth_failed"),
    (OfflineError, 503, "server_error", "offline_mode"),
    (MissingKeyError, 503, "server_error", "provider_not_set_up"),
    (KeyScopeError, 503, "server_error", "provider_not_set_up"),
    (NoKeyringError, 503, "server_error", "provider_not_set_up"),
    (ProviderConfigError, 503, "server_error", "provider_not_set_up"),
    (ModelError, 503, "server_error", "local_model_unavailable"),
    (NoRouteError, 503, "server_error", "no_route"),
)


def api_error(exc: ParleyError) -> ApiError:
    """The HTTP error a client gets for `exc`; its message is Parley's own sentence."""
    for cls, status, kind, code in _STATUS:
        if isinstance(exc, cls):
            return ApiError(status, str(exc), kind, code)
    return ApiError(502, str(exc), "server_error", "upstream_error")


def bug_error() -> ApiError:
    return ApiError(500, "Something went wrong in Parley; the details are in its log.",
                    "server_error", "internal_error")  # fmt: skip
