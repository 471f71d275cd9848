"""API keys: stored only through `keyring` (Keychain, Credential Locker, Secret Service).

Service name "parley", user name = provider name. With no usable keyring the
user gets a `NoKeyringError` that says how to fix it. A plaintext file is used
only when the user turned on `PLAINTEXT_FALLBACK` in Settings, knowing it is
unsafe (every other chat app stores keys that way; Parley doesn't by default).
"""

from __future__ import annotations

import json
import logging
import os
from typing import TYPE_CHECKING, Any

from app.core.providers._errors import NoKeyringError, ProviderConfigError

if TYPE_CHECKING:
    from pathlib import Path

    from keyring.backend import KeyringBackend

    from app.core.foundation.settings import Settings

logger = logging.getLogger(__name__)

SERVICE = "parley"
PLAINTEXT_FALLBACK = "secrets.plaintext_fallback"  # bool, off unless the user opts in
PLAINTEXT_FILE = "keys-plaintext.json"
MAX_KEY_CHARS = 4096
NO_KEYRING_HINT = (
    "Parley keeps API keys only in the system keyring and found none. On Linux, install and "
    "unlock GNOME Keyring or KWallet (Secret Service); on macOS and Windows the keyring is "
    "built in. If you accept the risk, turn on 'Store keys in a plain file' in Settings."
)


def clean_key(raw: str) -> str:
    key = raw.strip()
    if not key:
        raise ProviderConfigError("The key is empty.", "Paste the key on standard input.")
    if any(c.isspace() for c in key) or len(key) > MAX_KEY_CHARS:
        raise ProviderConfigError(
            "That doesn't look like an API key (it has spaces or is very long).",
            "Copy the key again from the provider's website.",
        )
    return key


class KeyStore:
    """Reads and writes provider keys; never logs or returns them anywhere but `get`."""

    def __init__(self, settings: Settings, root: Path) -> None:
        self._settings = settings
        self._plain_path = root / PLAINTEXT_FILE

    # which store ----------------------------------------------------------
    def plaintext_enabled(self) -> bool:
        return bool(self._settings.get(PLAINTEXT_FALLBACK, False))

    def backend_name(self) -> str:
        kr = _usable_keyring()
        if kr is not None:
            return f"{type(kr).__module__}.{type(kr).__name__}"
        return "plaintext file (unsafe)" if self.plaintext_enabled() else "none"

    # keys -----------------------------------------------------------------
    def get(self, name: str) -> str | None:
        kr = self._keyring()
        if kr is None:
            return self._plain_read().get(name)
        from keyring.errors import KeyringError

        try:
            return kr.get_password(SERVICE, name)
        except (KeyringError, RuntimeError, OSError) as exc:
            raise _keyring_failed("read", exc) from exc

    def set(self, name: str, key: str) -> None:
        key = clean_key(key)
        kr = self._keyring()
        if kr is None:
            keys = self._plain_read()
            keys[name] = key
            self._plain_write(keys)
            logger.warning("stored the key for %s in a plaintext file (user opted in)", name)
            return
        from keyring.errors import KeyringError

        try:
            kr.set_password(SERVICE, name, key)
        except (KeyringError, RuntimeError, OSError) as exc:
            raise _keyring_failed("save", exc) from exc

    def delete(self, name: str) -> None:
        kr = self._keyring()
        if kr is None:
            keys = self._plain_read()
            if keys.pop(name, None) is not None:
                self._plain_write(keys)
            return
        from keyring.errors import KeyringError, PasswordDeleteError

        try:
            kr.delete_password(SERVICE, name)
        except PasswordDeleteError:
            pass  # nothing stored: already gone
        except (KeyringError, RuntimeError, OSError) as exc:
            raise _keyring_failed("delete", exc) from exc

    # internals ------------------------------------------------------------
    def _keyring(self) -> KeyringBackend | None:
        """The keyring, or None when the user chose the plaintext file; else raise."""
        kr = _usable_keyring()
        if kr is not None:
            return kr
        if self.plaintext_enabled():
            return None
        raise NoKeyringError("No system keyring is available to store API keys.", NO_KEYRING_HINT)

    def _plain_read(self) -> dict[str, str]:
        try:
            data: Any = json.loads(self._plain_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise NoKeyringError(
                f"The plaintext key file {self._plain_path} can't be read ({exc}).",
                "Delete it and set the keys again.",
            ) from exc
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _plain_write(self, keys: dict[str, str]) -> None:
        tmp = self._plain_path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(keys, f)
        os.replace(tmp, self._plain_path)


def _usable_keyring() -> KeyringBackend | None:
    import keyring
    from keyring.backends import chainer, fail

    kr = keyring.get_keyring()
    if isinstance(kr, fail.Keyring):
        return None
    if isinstance(kr, chainer.ChainerBackend) and not kr.backends:
        return None
    return kr


def _keyring_failed(action: str, exc: Exception) -> NoKeyringError:
    return NoKeyringError(
        f"The system keyring couldn't {action} the key ({type(exc).__name__}: {exc}).",
        "Unlock your keyring (log in to the desktop session) and try again.",
    )
