"""Typed provider failures. Each says what failed and what to do next, in plain words."""

from __future__ import annotations

from app.core.foundation.errors import ParleyError


class ProviderError(ParleyError):
    """Something between Parley and a cloud provider failed."""


class NoKeyringError(ProviderError):
    """No usable OS keyring, and the plaintext fallback is off."""


class MissingKeyError(ProviderError):
    """The provider needs a key and none is stored."""


class KeyScopeError(ProviderError):
    """The stored key would go to a host or scheme it was not saved for."""


class OfflineError(ProviderError):
    """Offline mode is on: Parley sends nothing over the network."""


class ProviderConfigError(ProviderError):
    """A provider name, kind or URL is invalid, or the provider does not exist."""


class AuthError(ProviderError):
    """401/403: the key was refused."""


class OutOfCreditsError(ProviderError):
    """402: the account has no credit left."""


class UnknownModelError(ProviderError):
    """404: the provider does not serve this model (or the URL is wrong)."""


class RateLimitError(ProviderError):
    """429 after the allowed retries."""


class ServerError(ProviderError):
    """5xx after the allowed retries, or another unexpected status."""


class ConnectFailedError(ProviderError):
    """Could not connect: refused, DNS, TLS, or connect timeout."""


class StreamTimeoutError(ProviderError):
    """The provider stopped sending in the middle of an answer."""


class ConnectionDroppedError(ProviderError):
    """The connection closed before the answer was complete."""


class MalformedStreamError(ProviderError):
    """The provider sent something that is not a valid stream chunk."""


class StreamErrorEvent(ProviderError):
    """The provider sent an error object inside the stream, after a 200."""


class EmptyAnswerError(ProviderError):
    """The stream finished without any text."""
