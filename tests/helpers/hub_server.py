"""A local Hugging Face Hub on 127.0.0.1 that speaks what huggingface_hub and Parley use.

- `GET /api/models` (search: filter, search, sort, limit, expand)
- `GET /api/models/{repo}/tree/{rev}` (sizes, git oid, LFS sha256)
- `POST /api/models/{repo}/paths-info/{rev}` (form field `paths`)
- `GET|HEAD /{repo}/resolve/{rev}/{path}`: 302 to `/cdn/...` like the real hub
- `GET|HEAD /cdn/{repo}/{rev}/{path}`: the bytes, with ETag, Range, If-Range

Files can be throttled (bytes/s), made to drop the connection after N bytes
(once per listed fault), served with wrong bytes (hash mismatch), or be
"virtual" (a header followed by zeros up to a declared size). A range can be
answered the way some CDNs and proxies do: `200 OK` with a `Content-Range`
and only that slice (`range_reply="200+range"`), or `200 OK` with only the
slice and no `Content-Range` at all (`"200-short"`). Errors carry
the hub's `X-Error-Code` header so huggingface_hub raises its own exceptions.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

CHUNK = 1 << 20


@dataclass
class HubFile:
    path: str
    data: bytes = b""
    source: Path | None = None  # serve this file from disk instead of `data`
    virtual_size: int | None = None  # `data`, then zeros up to this size
    sha256: str | None = None  # what the hub lists; computed from the bytes when None
    lfs: bool = True
    rate: float | None = None  # bytes per second
    drops: list[int] = field(default_factory=list)  # per request: close after N body bytes
    serve: bytes | None = None  # serve these bytes instead (a corrupt mirror)
    range_reply: str = "206"  # "206" | "200+range" | "200-short": how a Range is answered
    _serve_etag: str | None = None

    @property
    def size(self) -> int:
        if self.virtual_size is not None:
            return self.virtual_size
        if self.source is not None:
            return self.source.stat().st_size
        return len(self.data)

    def listed_sha256(self) -> str:
        if self.sha256 is None:
            digest = hashlib.sha256()
            if self.source is not None:
                with self.source.open("rb") as f:
                    while chunk := f.read(CHUNK):
                        digest.update(chunk)
            else:
                digest.update(self.data)
                if self.virtual_size:
                    digest.update(b"\0" * (self.virtual_size - len(self.data)))
            self.sha256 = digest.hexdigest()
        return self.sha256

    @property
    def etag(self) -> str:
        if self.serve is None:
            return f'"{self.listed_sha256()}"'
        if self._serve_etag is None:
            self._serve_etag = f'"{hashlib.sha256(self.serve).hexdigest()}"'
        return self._serve_etag

    def read(self, start: int, end: int) -> bytes:
        """Bytes [start, end) of what is served."""
        if self.serve is not None:
            return self.serve[start:end]
        if self.source is not None:
            with self.source.open("rb") as f:
                f.seek(start)
                return f.read(end - start)
        head = self.data[start:end]
        return head + b"\0" * (end - start - len(head))


@dataclass
class HubRepo:
    repo_id: str
    files: dict[str, HubFile] = field(default_factory=dict)
    downloads: int = 0
    likes: int = 0
    license: str = "apache-2.0"
    last_modified: str = "2025-06-20T12:00:00.000Z"
    gated: bool = False

    def add(self, f: HubFile) -> HubFile:
        self.files[f.path] = f
        return f


class HubServer:
    """`with HubServer() as hub:` — `hub.endpoint` goes into HF_ENDPOINT."""

    def __init__(self) -> None:
        self.repos: dict[str, HubRepo] = {}
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, args=(0.05,), name="hub-server"
        )

    @property
    def endpoint(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def repo(self, repo_id: str, **kwargs: Any) -> HubRepo:
        repo = self.repos.setdefault(repo_id, HubRepo(repo_id))
        for key, value in kwargs.items():
            setattr(repo, key, value)
        return repo

    def start(self) -> HubServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def file_requests(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.requests if r["path"].startswith("/cdn/") and
                    r["path"].endswith("/" + quote(path))]  # fmt: skip

    def url(self, repo_id: str, path: str, rev: str = "main") -> str:
        return f"{self.endpoint}/cdn/{repo_id}/{rev}/{quote(path)}"


def _tree_entry(f: HubFile) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": "file", "path": f.path, "size": f.size,
                             "oid": hashlib.sha1(f.path.encode()).hexdigest()}  # fmt: skip
    if f.lfs:
        entry["lfs"] = {"oid": f.listed_sha256(), "size": f.size, "pointerSize": 134}
    return entry


def _model_entry(repo: HubRepo) -> dict[str, Any]:
    return {
        "_id": hashlib.md5(repo.repo_id.encode()).hexdigest()[:24],
        "id": repo.repo_id,
        "modelId": repo.repo_id,
        "author": repo.repo_id.split("/")[0],
        "downloads": repo.downloads,
        "likes": repo.likes,
        "lastModified": repo.last_modified,
        "createdAt": "2025-01-01T00:00:00.000Z",
        "gated": "manual" if repo.gated else False,
        "private": False,
        "tags": ["gguf", f"license:{repo.license}"],
        "library_name": "gguf",
    }


def _handler_for(server: HubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        # --- plumbing -------------------------------------------------------
        def _record(self) -> None:
            with server.lock:
                server.requests.append({
                    "method": self.command, "path": urlsplit(self.path).path,
                    "range": self.headers.get("Range"), "if_range": self.headers.get("If-Range"),
                    "auth": self.headers.get("Authorization"),
                })  # fmt: skip

        def _json(self, value: Any, status: int = 200) -> None:
            body = json.dumps(value).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: int, code: str, message: str = "") -> None:
            body = json.dumps({"error": message or code}).encode()
            self.send_response(status)
            self.send_header("X-Error-Code", code)
            self.send_header("X-Error-Message", message or code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _repo(self, repo_id: str) -> HubRepo | None:
            repo = server.repos.get(repo_id)
            if repo is None:
                self._error(404, "RepoNotFound", "Repository not found")
            return repo

        # --- routes ---------------------------------------------------------
        def do_GET(self) -> None:
            self._record()
            url = urlsplit(self.path)
            path = unquote(url.path)
            if path == "/api/models":
                return self._search(parse_qs(url.query))
            if m := re.fullmatch(r"/api/models/([^/]+/[^/]+)/tree/([^/]+)(/.*)?", path):
                return self._tree(m[1])
            if m := re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path):
                return self._resolve(m[1], m[2], m[3])
            if m := re.fullmatch(r"/cdn/([^/]+/[^/]+)/([^/]+)/(.+)", path):
                return self._bytes(m[1], m[3])
            self._error(404, "NotFound")

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_POST(self) -> None:
            self._record()
            length = int(self.headers.get("Content-Length", 0))
            form = parse_qs(self.rfile.read(length).decode())
            path = unquote(urlsplit(self.path).path)
            if m := re.fullmatch(r"/api/models/([^/]+/[^/]+)/paths-info/([^/]+)", path):
                repo = self._repo(m[1])
                if repo is not None:
                    wanted = form.get("paths", [])
                    self._json([_tree_entry(repo.files[p]) for p in wanted if p in repo.files])
                return
            self._error(404, "NotFound")

        def _search(self, query: dict[str, list[str]]) -> None:
            text = (query.get("search") or [""])[0].lower()
            sort = (query.get("sort") or ["downloads"])[0]
            limit = int((query.get("limit") or ["1000"])[0])
            repos = [r for r in server.repos.values() if text in r.repo_id.lower()]
            field_name = {"likes": "likes", "lastModified": "last_modified"}.get(sort, "downloads")
            repos.sort(key=lambda r: getattr(r, field_name), reverse=True)
            self._json([_model_entry(r) for r in repos[:limit]])

        def _tree(self, repo_id: str) -> None:
            if (repo := self._repo(repo_id)) is not None:
                self._json([_tree_entry(f) for f in repo.files.values()])

        def _resolve(self, repo_id: str, rev: str, file_path: str) -> None:
            repo = self._repo(repo_id)
            if repo is None:
                return
            if repo.gated and not self.headers.get("Authorization"):
                return self._error(401, "GatedRepo", "Access to model is restricted.")
            f = repo.files.get(file_path)
            if f is None:
                return self._error(404, "EntryNotFound", "Entry not found")
            self.send_response(302)
            self.send_header("Location", f"/cdn/{repo_id}/{rev}/{quote(file_path)}")
            self.send_header("X-Linked-Etag", f'"{f.listed_sha256()}"')
            self.send_header("X-Linked-Size", str(f.size))
            self.send_header("X-Repo-Commit", "0" * 40)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _bytes(self, repo_id: str, file_path: str) -> None:
            repo = server.repos.get(repo_id)
            f = repo.files.get(file_path) if repo else None
            if f is None:
                return self._error(404, "EntryNotFound")
            size = len(f.serve) if f.serve is not None else f.size
            start, end, status = 0, size, 200
            wanted = self.headers.get("Range")
            if_range = self.headers.get("If-Range")
            if wanted and (if_range is None or if_range == f.etag):
                m = re.fullmatch(r"bytes=(\d+)-(\d*)", wanted.strip())
                if m:
                    start = int(m[1])
                    end = min(size, int(m[2]) + 1) if m[2] else size
                    if start >= size:
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{size}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    status = 206
            ranged = status == 206
            if ranged and f.range_reply != "206":
                status = 200
            self.send_response(status)
            self.send_header("ETag", f.etag)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(end - start))
            if ranged and f.range_reply != "200-short":
                self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
            self.end_headers()
            if self.command == "HEAD":
                return
            with server.lock:
                drop = f.drops.pop(0) if f.drops else None
            self._send_body(f, start, end, drop)

        def _send_body(self, f: HubFile, start: int, end: int, drop: int | None) -> None:
            limit = end if drop is None else min(end, start + drop)
            if f.rate is None and f.source is not None and f.serve is None and drop is None:
                self.wfile.flush()
                with f.source.open("rb") as src:
                    offset = start
                    while offset < end:
                        sent = os.sendfile(self.connection.fileno(), src.fileno(), offset,
                                           end - offset)  # fmt: skip
                        if sent == 0:
                            break
                        offset += sent
                return
            pos = start
            began = time.monotonic()
            step = CHUNK if f.rate is None else max(16384, int(f.rate / 20))
            try:
                while pos < limit:
                    chunk = f.read(pos, min(limit, pos + step))
                    self.wfile.write(chunk)
                    pos += len(chunk)
                    if f.rate is not None:
                        ahead = (pos - start) / f.rate - (time.monotonic() - began)
                        if ahead > 0:
                            time.sleep(ahead)
            except (BrokenPipeError, ConnectionResetError):
                return
            if drop is not None and limit < end:
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)

    return Handler


def main() -> None:
    """`python -m tests.helpers.hub_server [--rate B/s] REPO FILE...`: serve until stdin closes."""
    import sys

    args = sys.argv[1:]
    rate = None
    if args[:1] == ["--rate"]:
        rate, args = float(args[1]), args[2:]
    server = HubServer()
    repo = server.repo(args[0])
    for arg in args[1:]:
        path = Path(arg)
        repo.add(HubFile(path.name, source=path, rate=rate))
    with server:
        print(server.endpoint, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
