"""Bounds on what a provider may send: line length, trickling, and body size.

httpx's `iter_lines` keeps a line in memory until its newline comes, however
long, and its read timeout restarts with every byte: a 10 MB `data:` line or
a server that sends one byte a second (slow-loris) would hold memory or the
answer forever. `sse_events` reads the raw chunks itself (so Stop works between
any two of them), decodes UTF-8 with bad bytes replaced, and ends the stream
with a clear error when a line grows past `MAX_LINE` or the stream brings no
complete event for `stall_s` seconds. `read_limited` reads at most `limit`
bytes of an error or listing body.
"""

from __future__ import annotations

import codecs
import re
import time
from typing import TYPE_CHECKING

from app.core.providers._errors import MalformedStreamError, StreamTimeoutError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from threading import Event

    import httpx

    from app.core.providers._sse import SSEDecoder

MAX_LINE = 2 << 20  # characters; a chunk of an answer is a few hundred
MAX_ERROR_BODY = 1 << 20  # bytes of an error body worth reading
_BREAK = re.compile(r"\r\n|\r|\n")


def sse_events(
    chunks: Iterable[bytes], events: SSEDecoder, cancel: Event, who: str, stall_s: float
) -> Iterator[list[str]]:
    """The data of the SSE events in a body, a list per network read, through `events`
    (whose `flush()` then holds an event the body left unterminated); returns early
    when `cancel` is set.

    Raises `MalformedStreamError` for a line over `MAX_LINE` characters and
    `StreamTimeoutError` when no `data:` line completes for `stall_s` seconds
    (comments and trickled bytes don't count as progress).
    """
    decode = codecs.getincrementaldecoder("utf-8")("replace").decode
    split = _BREAK.split
    feed = events.feed_lines
    pending = ""
    last_data = time.monotonic()
    for chunk in chunks:
        if cancel.is_set():
            return
        pending += decode(chunk)
        *lines, pending = split(pending)
        done, saw_data = feed(lines)
        if saw_data:
            last_data = time.monotonic()
        if done:
            yield done
        if len(pending) > MAX_LINE:
            raise MalformedStreamError(
                f"{who} sent a stream line of more than {MAX_LINE >> 20} MB without an end.",
                "The answer so far is kept. Try again; if it keeps happening, the provider "
                "or a proxy in between is mangling the stream.",
            )
        if time.monotonic() - last_data > stall_s:
            raise StreamTimeoutError(
                f"{who} kept the connection open for {stall_s:.0f} s without sending any "
                "of the answer.",
                "The partial answer is kept. Use Retry to ask again.",
            )
    if tail := pending + decode(b"", final=True):
        feed((tail,))  # a line without an end completes no event; flush() reads it


def read_limited(resp: httpx.Response, limit: int = MAX_ERROR_BODY) -> str:
    """Up to `limit` bytes of a streamed response's body, as text (bad bytes replaced)."""
    body = bytearray()
    for chunk in resp.iter_bytes():
        body += chunk[: limit - len(body)]
        if len(body) >= limit:
            break
    return body.decode("utf-8", errors="replace")  # error bodies are JSON
