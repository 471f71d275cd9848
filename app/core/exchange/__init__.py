"""One request, end to end, for every path: see `app.core.exchange.exchange`."""

from app.core.exchange.exchange import (
    BUG_MESSAGE,
    Exchange,
    Exchanges,
    Identity,
    NoRouteError,
    Origin,
    Settled,
)
from app.core.exchange.policy import LocalOnlyError, Policy
from app.core.exchange.spend import quote, spent_result

__all__ = [
    "BUG_MESSAGE",
    "Exchange",
    "Exchanges",
    "Identity",
    "LocalOnlyError",
    "NoRouteError",
    "Origin",
    "Policy",
    "Settled",
    "quote",
    "spent_result",
]
