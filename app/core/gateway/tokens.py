"""Parley access tokens: what a gateway client must send as `Authorization: Bearer …`.

The token itself lives only in the OS keyring (through `KeyStore`, user name
`gateway:token:<id>`, which no provider name can take); the database keeps its
SHA-256, a label (the client's name on ledger rows) and an optional default
project, so checking a request costs one indexed query, not a keyring call.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.core.foundation.errors import NotFoundError, ParleyError

if TYPE_CHECKING:
    from app.core.foundation.storage import Database
    from app.core.providers.secrets import KeyStore

PREFIX = "parley-"
DEFAULT_LABEL = "default"
MAX_LABEL = 64


def _key_name(token_id: int) -> str:
    return f"gateway:token:{token_id}"


def fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class AccessToken:
    id: int
    label: str
    project: str | None
    created_at: float
    revoked_at: float | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "project": self.project,
                "created_at": self.created_at, "revoked_at": self.revoked_at}  # fmt: skip


def _token(row: Any) -> AccessToken:
    return AccessToken(row["id"], row["label"], row["project"], row["created_at"],
                       row["revoked_at"])  # fmt: skip


class AccessTokens:
    def __init__(self, db: Database, keys: KeyStore) -> None:
        self.db = db
        self.keys = keys

    def create(
        self, label: str = DEFAULT_LABEL, project: str | None = None
    ) -> tuple[AccessToken, str]:
        """A new token: (its record, the secret). Raises `NoKeyringError` without a keyring."""
        label = " ".join(label.split())[:MAX_LABEL]
        if not label:
            raise ParleyError("A token needs a label.", "Name the client it is for, e.g. 'editor'.")
        secret = PREFIX + secrets.token_urlsafe(32)
        with self.db.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO gateway_tokens (label, project, sha256, created_at) "
                "VALUES (?, ?, ?, ?)",
                (label, (project or "").strip() or None, fingerprint(secret), time.time()),
            )
            token_id = int(cur.lastrowid or 0)
            # In the keyring before the row commits: a token whose secret was never stored
            # would be one nobody can ever show again.
            self.keys.set(_key_name(token_id), secret)
        return self.get(token_id), secret

    def default(self) -> tuple[AccessToken, str]:
        """The newest active token labelled 'default', created on first use."""
        rows = self.db.query(
            "SELECT * FROM gateway_tokens WHERE label = ? AND revoked_at IS NULL "
            "ORDER BY id DESC LIMIT 1", (DEFAULT_LABEL,),
        )  # fmt: skip
        if rows:
            token = _token(rows[0])
            secret = self.keys.get(_key_name(token.id))
            if secret and fingerprint(secret) == self._sha(token.id):
                return token, secret
            self.revoke(token.id)  # its secret is gone from the keyring: replace it
        return self.create(DEFAULT_LABEL)

    def secret(self, token_id: int) -> str | None:
        return self.keys.get(_key_name(token_id))

    def get(self, token_id: int) -> AccessToken:
        rows = self.db.query("SELECT * FROM gateway_tokens WHERE id = ?", (token_id,))
        if not rows:
            raise NotFoundError(f"There is no access token {token_id}.",
                                "List them with `parley serve token --list`.")  # fmt: skip
        return _token(rows[0])

    def list(self, include_revoked: bool = False) -> list[AccessToken]:
        where = "" if include_revoked else "WHERE revoked_at IS NULL"
        rows = self.db.query(f"SELECT * FROM gateway_tokens {where} ORDER BY id")
        return [_token(r) for r in rows]

    def any_active(self) -> bool:
        return bool(self.db.query("SELECT 1 FROM gateway_tokens WHERE revoked_at IS NULL LIMIT 1"))

    def revoke(self, token_id: int) -> None:
        self.get(token_id)
        self.db.execute(
            "UPDATE gateway_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (time.time(), token_id),
        )
        self.keys.delete(_key_name(token_id))

    def verify(self, secret: str) -> AccessToken | None:
        """The active token with this secret, or None."""
        if not secret.startswith(PREFIX):
            return None
        rows = self.db.query(
            "SELECT * FROM gateway_tokens WHERE sha256 = ? AND revoked_at IS NULL",
            (fingerprint(secret),),
        )
        return _token(rows[0]) if rows else None

    def _sha(self, token_id: int) -> str:
        return str(self.db.scalar("SELECT sha256 FROM gateway_tokens WHERE id = ?", (token_id,)))
