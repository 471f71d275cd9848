"""Hugging Face Hub: search GGUF repos, list a repo's GGUF files, read a remote GGUF header.

Search, tree and paths-info go through `huggingface_hub.HfApi` (imported
lazily). The header is read with an HTTP Range request of the first
megabytes of the file, so the fit verdict needs no download. `HF_ENDPOINT`,
`HF_TOKEN` and `HF_HOME` are read at call time, not import time, so tests
and users can point Parley at another hub.
"""

from __future__ import annotations

import io
import os
import re
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast
from urllib.parse import quote

from app import __version__
from app.core.foundation.errors import ModelError, ParleyError
from app.core.foundation.offline import offline_mode
from app.core.local.gguf import GGUFHeader, read_header

if TYPE_CHECKING:
    from collections.abc import Iterator

    import httpx
    from huggingface_hub import HfApi

DEFAULT_ENDPOINT = "https://huggingface.co"
DEFAULT_QUERY = "Mistral-Small-3"
SORTS = {"downloads": "downloads", "likes": "likes", "updated": "last_modified"}
HEADER_PROBES = (4 << 20, 16 << 20, 64 << 20)  # bytes fetched to read a header, growing
# connect, read, write, pool (seconds); httpx is imported on first use to keep start-up lean
TIMEOUTS = {"connect": 10.0, "read": 30.0, "write": 30.0, "pool": 10.0}
SPLIT = re.compile(r"^(?P<stem>.+)-(?P<part>\d{5})-of-(?P<count>\d{5})\.gguf$", re.IGNORECASE)
_QUANT = re.compile(
    r"(?<![A-Za-z0-9])(I?Q\d(?:_[0-9A-Z]+)*|BF16|F16|F32|TQ\d_0|MXFP4(?:_MOE)?)(?![A-Za-z0-9])",
    re.IGNORECASE,
)


class HubError(ParleyError):
    """The hub could not be reached, or refused the request."""


class HubNotFoundError(HubError):
    """A repo, revision or file that does not exist (or is private)."""


class HubAccessError(HubError):
    """A gated or private repo without access (401/403)."""


@dataclass(frozen=True, slots=True)
class RepoSummary:
    repo_id: str
    author: str
    downloads: int
    likes: int
    license: str | None
    updated: str | None  # ISO 8601
    gated: bool

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class RemoteFile:
    path: str
    size: int
    sha256: str | None  # LFS sha256; None for files kept in git itself
    blob_id: str | None = None  # git blob sha1


@dataclass(frozen=True, slots=True)
class RemoteModel:
    """One model in a repo: a single .gguf, or every part of a split one."""

    repo_id: str
    name: str
    files: tuple[RemoteFile, ...]
    quantization: str | None
    complete: bool = True  # False when some split parts are missing

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def first(self) -> RemoteFile:
        return self.files[0]


# --- configuration -------------------------------------------------------------


def endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def hf_home() -> Path:
    return Path(os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface").expanduser()


def hf_token() -> str | None:
    """HF_TOKEN, else the token `hf auth login` saved under HF_HOME."""
    if token := os.environ.get("HF_TOKEN"):
        return token.strip()
    try:
        return (hf_home() / "token").read_text().strip() or None
    except OSError:
        return None


def env_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def offline() -> bool:
    return env_offline() or offline_mode()


def _api() -> HfApi:
    from huggingface_hub import HfApi

    return HfApi(endpoint=endpoint(), token=hf_token() or False)


def http_client() -> httpx.Client:
    """A client for hub file bytes: follows redirects to the CDN (httpx drops the
    Authorization header when a redirect leaves the hub's origin)."""
    import httpx
    headers = {"User-Agent": f"Parley/{__version__}"}
    if token := hf_token():
        headers["Authorization"] = f"Bearer {token}"
    return httpx.Client(follow_redirects=True, timeout=httpx.Timeout(**TIMEOUTS), headers=headers)


def resolve_url(repo_id: str, path: str, revision: str = "main") -> str:
    return f"{endpoint()}/{repo_id}/resolve/{quote(revision, safe='')}/{quote(path)}"


def _check_online() -> None:
    if env_offline():
        raise HubError(
            "Hugging Face is switched off: HF_HUB_OFFLINE is set.",
            "Unset HF_HUB_OFFLINE to search and download models.",
        )
    if offline_mode():
        raise HubError(
            "Offline mode is on, so Parley sends nothing over the network.",
            "Turn it off in Settings (Providers) to search and download models.",
        )


@contextmanager
def hub_errors(what: str, repo_id: str = "") -> Iterator[None]:
    """Turn huggingface_hub and httpx failures into errors that say what to do."""
    import httpx
    from huggingface_hub import errors as hf

    try:
        yield
    except hf.GatedRepoError as exc:
        raise gated_error(repo_id) from exc
    except hf.RepositoryNotFoundError as exc:
        raise HubNotFoundError(
            f"There is no model repo '{repo_id}' on Hugging Face (or it is private).",
            "Check the name (owner/name, as in `parley models search`); for a private repo, "
            "log in with `hf auth login` or set HF_TOKEN.",
        ) from exc
    except hf.RevisionNotFoundError as exc:
        raise HubNotFoundError(f"{repo_id} has no such revision.", "Use 'main'.") from exc
    except hf.EntryNotFoundError as exc:
        raise HubNotFoundError(
            f"{repo_id} has no such file.",
            f"List its files with `parley models files {repo_id}`.",
        ) from exc
    except hf.OfflineModeIsEnabled as exc:
        _check_online()
        raise HubError(str(exc)) from exc
    except hf.HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else 0
        if status in (401, 403):
            raise gated_error(repo_id) from exc
        raise HubError(
            f"Hugging Face refused to {what} (HTTP {status}).", "Try again in a minute."
        ) from exc
    except httpx.HTTPError as exc:
        raise unreachable(what, exc) from exc


def gated_error(repo_id: str) -> HubAccessError:
    return HubAccessError(
        f"{repo_id} is gated or private: Hugging Face refused access (401/403).",
        f"Accept its terms on {endpoint()}/{repo_id} while logged in, then log in here with "
        "`hf auth login` or set HF_TOKEN.",
    )


def unreachable(what: str, exc: Exception) -> HubError:
    return HubError(
        f"Couldn't reach Hugging Face to {what} ({type(exc).__name__}: {exc}).",
        "Check your connection and try again.",
    )


# --- search and files -----------------------------------------------------------


def search(
    query: str = DEFAULT_QUERY, sort: str = "downloads", limit: int = 30
) -> list[RepoSummary]:
    """GGUF model repos matching `query`, most downloaded (or liked, or updated) first."""
    _check_online()
    with hub_errors("search models"):
        api = _api()
        items = api.list_models(
            filter="gguf",
            search=query or None,
            sort=SORTS.get(sort, sort),  # type: ignore[arg-type]
            limit=limit,
            expand=["author", "downloads", "likes", "lastModified", "tags", "gated"],
        )
        return [_summary(m) for m in items]


def _summary(m: Any) -> RepoSummary:
    tags = m.tags or []
    license_ = next((t.split(":", 1)[1] for t in tags if t.startswith("license:")), None)
    return RepoSummary(
        repo_id=m.id,
        author=m.author or m.id.split("/")[0],
        downloads=int(m.downloads or 0),
        likes=int(m.likes or 0),
        license=license_,
        updated=m.last_modified.isoformat() if m.last_modified else None,
        gated=bool(m.gated),
    )


def quantization_from_name(name: str) -> str | None:
    stem = SPLIT.sub(r"\g<stem>", Path(name).name)
    found = _QUANT.findall(stem.removesuffix(".gguf"))
    return found[-1].upper() if found else None


def _remote_file(entry: Any) -> RemoteFile:
    lfs = getattr(entry, "lfs", None)
    return RemoteFile(entry.path, int(entry.size), lfs.sha256 if lfs else None,
                      getattr(entry, "blob_id", None))  # fmt: skip


def repo_files(repo_id: str, revision: str = "main") -> list[RemoteModel]:
    """Every GGUF model in a repo, split parts grouped, smallest first."""
    _check_online()
    with hub_errors(f"list the files of {repo_id}", repo_id):
        from huggingface_hub import RepoFile

        tree = _api().list_repo_tree(repo_id, recursive=True, revision=revision)
        files = [_remote_file(e) for e in tree if isinstance(e, RepoFile)]
    return group_models(repo_id, [f for f in files if f.path.lower().endswith(".gguf")])


def group_models(repo_id: str, files: list[RemoteFile]) -> list[RemoteModel]:
    singles: list[RemoteModel] = []
    splits: dict[tuple[str, int], list[tuple[int, RemoteFile]]] = {}
    for f in files:
        if match := SPLIT.match(f.path):
            key = (match["stem"], int(match["count"]))
            splits.setdefault(key, []).append((int(match["part"]), f))
        else:
            name = Path(f.path).name.removesuffix(".gguf")
            singles.append(RemoteModel(repo_id, name, (f,), quantization_from_name(f.path)))
    for (stem, count), parts in splits.items():
        parts.sort(key=lambda p: p[0])
        complete = [p for p, _ in parts] == list(range(1, count + 1))
        singles.append(RemoteModel(repo_id, Path(stem).name, tuple(f for _, f in parts),
                                   quantization_from_name(stem + ".gguf"), complete))  # fmt: skip
    return sorted(singles, key=lambda m: (m.size, m.name))


def find_model(repo_id: str, filename: str, revision: str = "main") -> RemoteModel:
    """The model a file name (any split part, or the group's name) belongs to."""
    models = repo_files(repo_id, revision)
    for model in models:
        known = {model.name} | {f.path for f in model.files}
        if filename in known | {Path(f.path).name for f in model.files}:
            return model
    names = ", ".join(f.path for m in models for f in m.files[:1]) or "none"
    raise HubNotFoundError(
        f"{repo_id} has no GGUF file '{filename}'.",
        f"Its GGUF files: {names}. See `parley models files {repo_id}`.",
    )


def file_info(repo_id: str, path: str, revision: str = "main") -> RemoteFile:
    """Size and LFS sha256 of one file (paths-info)."""
    _check_online()
    with hub_errors(f"look up {path}", repo_id):
        infos = _api().get_paths_info(repo_id, [path], revision=revision)
    for entry in infos:
        if entry.path == path and hasattr(entry, "size"):
            return _remote_file(entry)
    raise HubNotFoundError(
        f"{repo_id} has no file '{path}'.", f"See `parley models files {repo_id}`."
    )


# --- remote header ------------------------------------------------------------------


class _NeedMore(Exception):
    """The header runs past the bytes fetched so far."""


class _Prefix(io.RawIOBase):
    """The first bytes of a remote file; reading past them asks for more."""

    def __init__(self, data: bytes, complete: bool) -> None:
        self._buf = io.BytesIO(data)
        self._complete = complete
        self.exhausted = False

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        data = self._buf.read(n)
        if n > 0 and len(data) < n and not self._complete:
            # The reader may ask for more than it needs (it buffers): hand over what we
            # have and remember that a larger prefix could be required.
            self.exhausted = True
            if not data:
                raise _NeedMore
        return data


def raise_for_file_status(resp: httpx.Response, repo_id: str, path: str) -> None:
    if resp.status_code < 400:
        return
    code = resp.headers.get("X-Error-Code", "")
    if code == "GatedRepo" or resp.status_code in (401, 403):
        raise gated_error(repo_id)
    if resp.status_code == 404:
        if code == "RepoNotFound":
            raise HubNotFoundError(
                f"There is no model repo '{repo_id}' on Hugging Face (or it is private).",
                "Check the name with `parley models search`.",
            )
        raise HubNotFoundError(
            f"{repo_id} has no file '{path}'.", f"See `parley models files {repo_id}`."
        )
    raise HubError(
        f"Hugging Face answered HTTP {resp.status_code} for {repo_id}/{path}.",
        "Try again in a minute.",
    )


def fetch_header(
    repo_id: str, path: str, revision: str = "main", client: httpx.Client | None = None
) -> tuple[GGUFHeader, int]:
    """Parse a remote GGUF's header from its first megabytes; also return the file's size."""
    import httpx
    _check_online()
    own = client is None
    client = client or http_client()
    try:
        for probe in HEADER_PROBES:
            try:
                resp = client.get(
                    resolve_url(repo_id, path, revision), headers={"Range": f"bytes=0-{probe - 1}"}
                )
            except httpx.HTTPError as exc:
                raise unreachable(f"read the header of {path}", exc) from exc
            raise_for_file_status(resp, repo_id, path)
            total = _total_size(resp)
            complete = resp.status_code == 200 or len(resp.content) >= total
            prefix = _Prefix(resp.content, complete)
            try:
                return read_header(cast("BinaryIO", prefix), Path(path).name, total), total
            except _NeedMore:
                continue
            except ModelError:
                if prefix.exhausted:
                    continue
                raise
        raise HubError(f"The GGUF header of {path} is larger than {HEADER_PROBES[-1] >> 20} MB.")
    finally:
        if own:
            client.close()


def _total_size(resp: httpx.Response) -> int:
    if match := re.match(r"bytes \d+-\d+/(\d+)", resp.headers.get("Content-Range", "")):
        return int(match.group(1))
    return len(resp.content)
