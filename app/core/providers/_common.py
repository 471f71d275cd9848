"""What every cloud backend shares: key scope, status -> error, retry timing, results."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.core.foundation.errors import ParleyError
from app.core.llm.contract import (
    GenerationRequest,
    GenerationResult,
    Outcome,
    TokenSource,
    Usage,
)
from app.core.llm.token_count import count_prompt, count_text, worse
from app.core.providers._config import ProviderConfig, is_loopback, url_origin
from app.core.providers._errors import (
    AuthError,
    KeyScopeError,
    MissingKeyError,
    OfflineError,
    OutOfCreditsError,
    ProviderError,
    RateLimitError,
    ServerError,
    UnknownModelError,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from app.core.providers.secrets import KeyStore

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 3  # tries in all, before the first token only
    max_wait_s: float = 20.0  # a longer Retry-After fails at once with "try again in N s"
    backoff_s: float = 1.0  # first wait without Retry-After; doubles each try

    @classmethod
    def of(cls, config: ProviderConfig) -> RetryPolicy:
        d = cls()
        return cls(
            attempts=max(1, int(config.option_float("retry_attempts", d.attempts))),
            max_wait_s=config.option_float("retry_max_wait_s", d.max_wait_s),
            backoff_s=config.option_float("retry_backoff_s", d.backoff_s),
        )


class Guard:
    """Checks done before any byte leaves: offline mode, key presence and key scope."""

    def __init__(
        self, config: ProviderConfig, keys: KeyStore, is_offline: Callable[[], bool]
    ) -> None:
        self.config = config
        self.keys = keys
        self.is_offline = is_offline
        # One keyring read per backend instance (a Secret Service call costs milliseconds);
        # a key change re-registers the provider, which builds a new instance.
        self._key: str | None = None

    def check_online(self) -> None:
        if self.is_offline():
            raise OfflineError(
                f"Offline mode is on, so Parley won't contact {self.config.display_name}.",
                "Pick a local model, or turn offline mode off in Settings.",
            )

    def key(self) -> str | None:
        """The key to send, or None for a keyless OpenAI-compatible server."""
        c = self.config
        if not c.has_key:
            if c.kind.key_required:
                raise MissingKeyError(
                    f"No API key is stored for {c.display_name}.",
                    f"Run `parley providers set-key {c.name}` and paste the key, "
                    "or add it under Settings → Providers.",
                )
            return None
        check_key_scope(c)
        if self._key is not None:
            return self._key
        key = self.keys.get(c.name)
        if not key:
            raise MissingKeyError(
                f"The API key for {c.display_name} is no longer in the system keyring.",
                f"Set it again with `parley providers set-key {c.name}`.",
            )
        self._key = key
        return key


def check_key_scope(config: ProviderConfig) -> None:
    """A key goes only to the origin it was saved for, and never over plain http off-box."""
    if config.key_host is not None and url_origin(config.base_url) != config.key_host:
        raise KeyScopeError(
            f"The key for {config.display_name} was saved for {config.key_host}, but the "
            f"provider now points at {url_origin(config.base_url)}; Parley won't send it there.",
            f"If the new address is right, set the key again: `parley providers set-key "
            f"{config.name}`.",
        )
    if config.base_url.startswith("http://") and not is_loopback(config.base_url):
        raise KeyScopeError(
            f"{config.display_name} uses plain http:// to {url_origin(config.base_url)}; "
            "Parley won't send an API key unencrypted.",
            "Use an https:// base URL (or a server on this machine).",
        )


def status_error(
    config: ProviderConfig, status: int, body: str, headers: Mapping[str, str], model: str,
    attempts: int,
) -> ProviderError:  # fmt: skip
    who = config.display_name
    detail = _detail(body)
    said = f" ({detail})" if detail else ""
    tries = f" after {attempts} tries" if attempts > 1 else ""
    match status:
        case 401 | 403:
            return AuthError(
                f"{who} refused the API key (HTTP {status}){said}.",
                f"Check the key on the provider's website and set it again with "
                f"`parley providers set-key {config.name}`.",
            )
        case 402:
            return OutOfCreditsError(
                f"{who} says the account is out of credits (HTTP 402){said}.",
                "Add credits or a payment method on the provider's website, "
                "or switch to another model.",
            )
        case 404:
            return UnknownModelError(
                f"{who} doesn't serve the model '{model}' (HTTP 404){said}.",
                f"Check the model id (`parley providers test {config.name}` lists what it "
                "serves) and the base URL.",
            )
        case 429:
            wait = retry_after_s(headers)
            when = f"in {wait:.0f} s" if wait is not None else "in a minute"
            return RateLimitError(
                f"{who} is limiting how fast Parley may send (HTTP 429){tries}{said}.",
                f"Try again {when}, or pick another model.",
            )
        case _ if 300 <= status < 400:
            where = headers.get("Location", "another address")
            return ProviderError(
                f"{who} answered with a redirect to {where} (HTTP {status}); Parley doesn't "
                "follow redirects, so the key stays with the address you set.",
                "If the provider moved, set its new base URL (and key) in Providers.",
            )
        case _ if status >= 500:
            return ServerError(
                f"{who} had a server error (HTTP {status}){tries}{said}.",
                "The provider may be down or overloaded: try again later or pick another model.",
            )
        case _:
            return ProviderError(
                f"{who} rejected the request (HTTP {status}){said}.",
                "Check the model id and settings for this provider.",
            )


def retry_delay(
    status: int, headers: Mapping[str, str], attempt: int, policy: RetryPolicy
) -> float | None:
    """Seconds to wait before trying again, or None when this failure is final."""
    if status not in RETRY_STATUSES or attempt >= policy.attempts:
        return None
    if status == 429 and (wait := retry_after_s(headers)) is not None:
        return wait if wait <= policy.max_wait_s else None
    backoff: float = policy.backoff_s * 2.0 ** (attempt - 1)
    return min(backoff, policy.max_wait_s)


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        import email.utils  # only for an HTTP-date Retry-After

        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _detail(body: str) -> str:
    body = body.strip()
    if not body:
        return ""
    try:
        from app.core.providers._sse import error_text

        text = error_text(json.loads(body))
    except ValueError:
        text = body if "<" not in body[:1] else ""  # skip HTML error pages
    text = " ".join(text.split())
    return text[:200] + ("…" if len(text) > 200 else "")


def scrub(text: str, key: str | None) -> str:
    """Never let a key reach an error message (some servers echo the header back)."""
    return text.replace(key, "****") if key and len(key) >= 4 else text


def scrubbed[E: ParleyError](exc: E, key: str | None) -> E:
    """`exc` again, with `key` taken out of its message and hint (a stream's error event
    may quote the request's headers)."""
    if not key or (key not in exc.message and key not in exc.hint):
        return exc
    clean = type(exc)(scrub(exc.message, key), scrub(exc.hint, key))
    return clean


def finish_result(
    *,
    backend: str,
    provider: str,
    request: GenerationRequest,
    text: str,
    outcome: Outcome,
    usage: tuple[int, int] | None,
    model: str | None,
    request_id: str | None,
    ttft_s: float | None,
    started: float,
    attempts: int,
    reported_cost: float | None = None,
) -> GenerationResult:
    if usage is not None and (usage[1] > 0 or not text):
        tokens = Usage(usage[0], usage[1], TokenSource.REPORTED)
    else:
        # No usage from the provider: count with the model's tokenizer where Parley has
        # it, else estimate (and say which); never record zero for a real answer.
        name = model or request.model
        if usage:
            prompt, prompt_source = usage[0], TokenSource.REPORTED
        else:
            prompt, prompt_source = count_prompt(request.messages, name)
        completion, completion_source = count_text(text, name)
        source = worse(prompt_source, completion_source) if text else prompt_source
        tokens = Usage(max(1, prompt), max(1, completion) if text else 0, source)
    return GenerationResult(
        text=text,
        outcome=outcome,
        usage=tokens,
        backend=backend,
        provider=provider,
        model=model or request.model,
        ttft_s=ttft_s,
        duration_s=time.monotonic() - started,
        request_id=request_id,
        extra={"attempts": float(attempts)},
        reported_cost=reported_cost,
    )
