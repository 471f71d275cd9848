"""The one `httpx.Client` for cloud traffic: keep-alive, HTTP/2 when `h2` is installed.

Building a client costs ~17 ms of TLS set-up, so every OpenAI-compatible and
Mistral request shares this one. Redirects are never followed: a redirect
could carry a key's request to another host.
"""

from __future__ import annotations

import importlib.util
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

USER_AGENT = "Parley/0.1 (+https://github.com/parley)"

_lock = threading.Lock()
_client: httpx.Client | None = None


def http2_available() -> bool:
    return importlib.util.find_spec("h2") is not None


def shared_client() -> httpx.Client:
    # Imported here: httpx costs ~60-200 ms, and a window that stays local never needs it.
    import httpx

    global _client
    with _lock:
        if _client is None or _client.is_closed:
            _client = httpx.Client(
                http2=http2_available(),
                timeout=httpx.Timeout(connect=10.0, read=60.0, write=30.0, pool=10.0),
                follow_redirects=False,
                limits=httpx.Limits(max_keepalive_connections=8, keepalive_expiry=60.0),
                headers={"User-Agent": USER_AGENT},
            )
        return _client


def close_shared_client() -> None:
    global _client
    with _lock:
        if _client is not None:
            _client.close()
            _client = None
