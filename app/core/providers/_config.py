"""Provider configurations, stored in SQLite (table `providers`). Never keys.

A provider's kind is a row of `kinds.KINDS`, checked here in Python (the table has no
SQL CHECK on it since schema 11): a new kind needs no migration."""

from __future__ import annotations

import ipaddress
import json
import re
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from app.core.providers._errors import ProviderConfigError
from app.core.providers.kinds import Kind, kind_names, parse_kind, stored_kind
from app.core.providers.kinds import ProviderKind as ProviderKind  # routing names kinds here

if TYPE_CHECKING:
    from app.core.foundation.storage import Database

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
RESERVED_NAMES = frozenset({"local", "auto"})  # the local backend and the router
@dataclass(frozen=True, slots=True)
class ProviderConfig:
    name: str
    kind: Kind
    base_url: str
    model: str
    # HF router kinds only: a policy (fastest/cheapest/preferred) or a provider name
    hf_provider: str = ""
    key_host: str | None = None  # scheme://host:port the stored key was saved for; None = no key
    created_at: float = 0.0
    # Non-secret tuning: timeouts, retry limits, cached model ids ("models").
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def has_key(self) -> bool:
        return self.key_host is not None

    @property
    def origin(self) -> str:
        return url_origin(self.base_url)

    @property
    def display_name(self) -> str:
        return f"{self.name} ({self.kind.label})"

    @property
    def cached_models(self) -> list[str]:
        models = self.options.get("models", [])
        return [str(m) for m in models] if isinstance(models, list) else []

    def option_float(self, key: str, default: float) -> float:
        value = self.options.get(key, default)
        return float(value) if isinstance(value, int | float) else default

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind.name,
            "base_url": self.base_url,
            "model": self.model,
            "hf_provider": self.hf_provider,
            "has_key": self.has_key,
            "created_at": self.created_at,
            "options": self.options,
        }


def url_origin(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def is_loopback(url: str) -> bool:
    return is_loopback_host(urlsplit(url).hostname or "")


def is_loopback_host(host: str) -> bool:
    """`localhost` or a loopback address (127.0.0.0/8, ::1): this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalize_base_url(url: str) -> str:
    url = url.strip().rstrip("/")
    for suffix in ("/chat/completions", "/models"):
        url = url.removesuffix(suffix)  # users paste the endpoint instead of the base
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProviderConfigError(
            f"'{url}' is not a usable base URL.",
            "Use something like https://api.example.com/v1 or http://127.0.0.1:8080/v1.",
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ProviderConfigError(
            f"The base URL '{url}' carries credentials, a query or a fragment.",
            "Give only scheme, host, port and path; set the key with "
            "`parley providers set-key NAME`.",
        )
    return url


def defaults_for(kind: Kind) -> tuple[str, str, str]:
    """(base_url, model, hf_provider) a new provider of this kind starts with."""
    return kind.base_url, kind.model, kind.hf_provider


def _row_to_config(row: Any) -> ProviderConfig:
    return ProviderConfig(
        name=row["name"],
        kind=stored_kind(row["kind"]),
        base_url=row["base_url"],
        model=row["model"],
        hf_provider=row["hf_provider"],
        key_host=row["key_host"],
        created_at=row["created_at"],
        options=json.loads(row["options_json"] or "{}"),
    )


class ProviderStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def list(self) -> list[ProviderConfig]:
        rows = self.db.query("SELECT * FROM providers ORDER BY created_at, name")
        return [_row_to_config(r) for r in rows]

    def find(self, name: str) -> ProviderConfig | None:
        rows = self.db.query("SELECT * FROM providers WHERE name = ?", (name,))
        return _row_to_config(rows[0]) if rows else None

    def get(self, name: str) -> ProviderConfig:
        config = self.find(name)
        if config is None:
            known = ", ".join(c.name for c in self.list()) or "none yet"
            raise ProviderConfigError(
                f"There is no provider called '{name}' (known: {known}).",
                f"Add one with `parley providers add NAME --kind {'|'.join(kind_names())}`.",
            )
        return config

    def add(
        self,
        name: str,
        kind: Kind | str,
        *,
        base_url: str | None = None,
        model: str | None = None,
        hf_provider: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> ProviderConfig:
        if not NAME_RE.match(name) or name in RESERVED_NAMES:
            raise ProviderConfigError(
                f"'{name}' can't be a provider name.",
                "Use up to 32 lowercase letters, digits, '-' or '_' (and not 'local' or 'auto').",
            )
        if self.find(name) is not None:
            raise ProviderConfigError(
                f"A provider called '{name}' already exists.",
                "Pick another name, or remove it first with `parley providers remove`.",
            )
        kind = parse_kind(kind)
        default_url, default_model, default_hf = defaults_for(kind)
        if not (base_url or default_url):
            raise ProviderConfigError(
                f"A provider of kind {kind.label} needs --base-url.",
                "For example --base-url http://127.0.0.1:8080/v1.",
            )
        config = ProviderConfig(
            name=name,
            kind=kind,
            base_url=normalize_base_url(base_url or default_url),
            model=(model or default_model).strip(),
            hf_provider=_clean_hf_provider(hf_provider or default_hf) if kind.hf_router else "",
            created_at=time.time(),
            options=dict(options or {}),
        )
        self._write(config, insert=True)
        return config

    def update(self, config: ProviderConfig) -> ProviderConfig:
        old = self.get(config.name)
        config = replace(config, base_url=normalize_base_url(config.base_url))
        if old.key_host is not None and url_origin(config.base_url) != old.key_host:
            # The key was saved for another host: keep it there, not here.
            config = replace(config, key_host=old.key_host)
        self._write(config, insert=False)
        return config

    def set_key_host(self, name: str, origin: str | None) -> None:
        self.db.execute("UPDATE providers SET key_host = ? WHERE name = ?", (origin, name))

    def set_options(self, name: str, **changes: Any) -> ProviderConfig:
        config = self.get(name)
        options = {**config.options, **changes}
        self.db.execute(
            "UPDATE providers SET options_json = ? WHERE name = ?", (json.dumps(options), name)
        )
        return replace(config, options=options)

    def remove(self, name: str) -> None:
        self.get(name)
        self.db.execute("DELETE FROM providers WHERE name = ?", (name,))

    def _write(self, c: ProviderConfig, *, insert: bool) -> None:
        values = (parse_kind(c.kind).name, c.base_url, c.model, c.hf_provider, c.key_host,
                  json.dumps(c.options), c.name)  # fmt: skip
        if insert:
            self.db.execute(
                "INSERT INTO providers (kind, base_url, model, hf_provider, key_host, "
                "options_json, name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (*values, c.created_at),
            )
        else:
            self.db.execute(
                "UPDATE providers SET kind = ?, base_url = ?, model = ?, hf_provider = ?, "
                "key_host = ?, options_json = ? WHERE name = ?",
                values,
            )


def _clean_hf_provider(value: str) -> str:
    value = value.strip().lower()
    if not re.match(r"^[a-z0-9][a-z0-9_.-]{0,63}$", value):
        raise ProviderConfigError(
            f"'{value}' is not a provider policy or provider name.",
            "Use fastest, cheapest, preferred, or a provider such as together or groq.",
        )
    return value
