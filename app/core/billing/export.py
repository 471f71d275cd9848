"""CSV export of the ledger: RFC 4180 (CRLF, quoted as needed), UTF-8, ISO-8601 UTC times.

One row per request, in the order they were recorded. The ledger holds no
secrets, and the columns are declared (billing/columns.py), so nothing but
these columns can ever reach the file.

Speed: SQLite builds each CSV line in C (formatting, quoting) and hands
back one string per chunk of rows, and chunks are built on a few threads
(sqlite3 releases the GIL while it steps). The csv module on this 2-core
machine managed ~80k rows/s; this is ~2-3x that.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.core.billing.aggregates import rates_for
from app.core.billing.columns import USAGE_COLUMNS, csv_headers
from app.core.billing.errors import ExportError
from app.core.billing.readonly import read_connection

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable, Iterator
    from concurrent.futures import Future
    from pathlib import Path

    from app.core.billing.currency import Rates
    from app.core.foundation.storage import Database

# The header and the ledger column behind each header (billing/columns.py declares both).
COLUMNS = csv_headers()
_SOURCE = {c.csv: c for c in USAGE_COLUMNS}
# Free text a user or a provider chose: may hold a comma, a quote or a line break.
_FREE_TEXT = frozenset(c.csv for c in USAGE_COLUMNS if c.free_text)
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection, see
# OWASP's "CSV Injection"): such free text gets a leading apostrophe, shown as text.
_FORMULA_START = "('=', '+', '-', '@', char(9), char(13))"
_FORMULA_CHARS = frozenset("=+-@\t\r")
CHUNK_IDS = 50_000
WORKERS = max(1, min(4, os.cpu_count() or 1))
CRLF = "\r\n"


def _safe(column: str) -> str:
    return (f"CASE WHEN substr({column}, 1, 1) IN {_FORMULA_START} THEN '''' || {column} "
            f"ELSE {column} END")  # fmt: skip


def _field(header: str, *, quote: bool, rates: Rates, safe: bool = True) -> str:
    match header:
        case "time_utc":
            return "strftime('%Y-%m-%dT%H:%M:%fZ', created_at, 'unixepoch')"
        case "local_date":
            return "date(local_day * 86400, 'unixepoch')"
        case "display_cost":
            return f"cost * {rates.sql_factor()}"
        case "display_currency":
            return f"CASE WHEN cost IS NOT NULL THEN '{rates.display}' END"
    column = _SOURCE[header].name
    if header not in _FREE_TEXT or not safe:
        return column  # the fast path: `_chunk` checks no cell needs quoting or neutralising
    if not quote:
        return _safe(column)
    safe_sql = _safe(column)
    return (f"CASE WHEN {column} GLOB '*[\",' || char(10) || char(13) || ']*' THEN "
            f"'\"' || replace({safe_sql}, '\"', '\"\"') || '\"' ELSE {safe_sql} END")  # fmt: skip


def _line(*, quote: bool, rates: Rates, sep: str = ",", safe: bool = True) -> str:
    # One printf builds the whole line in one pass (NULL prints as ''); chained `||`
    # would copy the growing line once per field.
    fields = ", ".join(_field(c, quote=quote, rates=rates, safe=safe) for c in COLUMNS)
    return f"printf('{sep.join(['%s'] * len(COLUMNS))}', {fields})"


# Most rows need no quoting: test all free-text fields at once, quote field by field only then.
_FREE = sorted(c.name for c in USAGE_COLUMNS if c.free_text)
_NEEDS_QUOTES = (
    f"printf('{'%s' * len(_FREE)}', {', '.join(_FREE)}) "
    "GLOB '*[\",' || char(10) || char(13) || ']*'"
)
_CHUNK = (
    "SELECT group_concat(line, {sep}), count(*) FROM (SELECT {line} AS line FROM usage "
    "WHERE id >= ? AND id < ?{{extra}} ORDER BY id)"
)
# Fast path: no per-row quoting test at all; fields and rows joined by ASCII unit and
# record separators, checked and swapped for ',' and CRLF in Python (memchr speed).
_FIELD_SEP, _ROW_SEP = "\x1f", "\x1e"
_FORMULA_AFTER_SEP = re.compile("[\x1f\x1e][=+@-]")


def _queries(rates: Rates) -> tuple[str, str]:
    """(fast, quoted) chunk queries for these rates."""
    fast = _CHUNK.format(sep=f"'{_ROW_SEP}'",
                         line=_line(quote=False, rates=rates, sep=_FIELD_SEP,
                                    safe=False))  # fmt: skip
    line = (f"CASE WHEN {_NEEDS_QUOTES} THEN {_line(quote=True, rates=rates)} "
            f"ELSE {_line(quote=False, rates=rates)} END")  # fmt: skip
    return fast, _CHUNK.format(sep="char(13) || char(10)", line=line)


@dataclass(frozen=True, slots=True)
class ExportResult:
    path: str
    rows: int


def parse_date(text: str, *, end: bool = False) -> float:
    """`YYYY-MM-DD` (a whole UTC day; `end` means after it) or an ISO-8601 time (UTC if naive)."""
    try:
        if len(text) == 10:
            day = dt.datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=dt.UTC)
            return (day + dt.timedelta(days=1 if end else 0)).timestamp()
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ExportError(
            f"'{text}' is not a date.", "Use YYYY-MM-DD or an ISO-8601 time (UTC)."
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def _where(since: float | None, until: float | None) -> tuple[str, list[Any]]:
    where, params = [], []
    if since is not None:
        where.append("created_at >= ?")
        params.append(since)
    if until is not None:
        where.append("created_at < ?")
        params.append(until)
    return " AND ".join(where), params


def _chunk(
    db: Database, queries: tuple[str, str], lo: int, hi: int, where: str, params: list[Any]
) -> tuple[str, int]:
    """CSV lines for ids in [lo, hi), joined by CRLF (no trailing line end)."""
    conn = read_connection(db)
    try:
        extra = f" AND {where}" if where else ""
        text, count = conn.execute(queries[0].format(extra=extra), [lo, hi, *params]).fetchone()
        text, count = text or "", int(count)
        # The fast path is exact when no value holds a CSV special or a separator character
        # and no value starts like a formula (the usual case): then only the separators
        # need swapping. Otherwise the quoted query quotes and neutralises field by field.
        if (
            not any(ch in text for ch in ',"\r\n\t')
            and not _FORMULA_AFTER_SEP.search(text)
            and text[:1] not in _FORMULA_CHARS
            and text.count(_FIELD_SEP) == count * (len(COLUMNS) - 1)
            and text.count(_ROW_SEP) == max(0, count - 1)
        ):
            return text.replace(_FIELD_SEP, ",").replace(_ROW_SEP, CRLF), count
        text, count = conn.execute(queries[1].format(extra=extra), [lo, hi, *params]).fetchone()
        return text or "", int(count)
    finally:
        conn.close()


def _chunks(
    db: Database, queries: tuple[str, str], pool: ThreadPoolExecutor, lo: int, hi: int,
    where: str, params: list[Any],
) -> Iterator[tuple[str, int]]:  # fmt: skip
    """Chunks in id order, at most 2 per worker in flight (bounded memory)."""
    pending: list[Future[tuple[str, int]]] = []
    for start in range(lo, hi + 1, CHUNK_IDS):
        pending.append(pool.submit(_chunk, db, queries, start, start + CHUNK_IDS, where, params))
        if len(pending) >= 2 * WORKERS:
            yield pending.pop(0).result()
    for future in pending:
        yield future.result()


def export_csv(
    db: Database,
    path: Path,
    *,
    since: float | None = None,
    until: float | None = None,
    cancel: threading.Event | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ExportResult:
    """Write the ledger rows in [since, until) to `path`; a cancelled export leaves no file."""
    where, params = _where(since, until)
    conn = read_connection(db)
    try:
        clause = f" WHERE {where}" if where else ""
        total = int(conn.execute(f"SELECT COUNT(*) FROM usage{clause}", params).fetchone()[0])
        lo, hi = conn.execute(f"SELECT min(id), max(id) FROM usage{clause}", params).fetchone()
        queries = _queries(rates_for(conn))
    finally:
        conn.close()
    try:
        handle = path.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        raise _write_error(path, exc) from exc
    written = 0
    cancelled = False
    try:
        with handle, ThreadPoolExecutor(WORKERS, thread_name_prefix="csv-export") as pool:
            handle.write(",".join(COLUMNS) + CRLF)
            if total:
                for text, count in _chunks(db, queries, pool, lo, hi, where, params):
                    if cancel is not None and cancel.is_set():
                        cancelled = True
                        pool.shutdown(cancel_futures=True)
                        break
                    if count:
                        handle.write(text)
                        handle.write(CRLF)
                        written += count
                        if progress is not None:
                            progress(written, total)
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise _write_error(path, exc) from exc
    if cancelled:
        path.unlink(missing_ok=True)
    return ExportResult(str(path), written)


def _write_error(path: Path, exc: OSError) -> ExportError:
    if exc.errno == errno.ENOENT and path.parent.is_dir():
        exc = OSError(errno.EACCES, "permission denied")
    reason = {
        errno.EACCES: "permission denied",
        errno.EROFS: "the disk is read-only",
        errno.ENOSPC: "the disk is full",
        errno.ENOENT: "the folder does not exist",
        errno.EISDIR: "it is a folder",
        errno.ENOTDIR: "part of the path is a file, not a folder",
    }.get(exc.errno or 0, exc.strerror or str(exc))
    return ExportError(
        f"Couldn't write the CSV file {os.fspath(path)}: {reason}.",
        "Choose another file in a folder you can write to.",
    )
