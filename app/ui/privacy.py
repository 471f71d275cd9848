"""The privacy switches shared by Preferences and the Providers dialog."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

PLAINTEXT_WARNING = (
    "Without a system keyring Parley can keep API keys in a plain file in its "
    "data folder. Anyone who can read that folder can read and use your keys. "
    "Use this only if you can't install a keyring (GNOME Keyring or KWallet)."
)


def confirm_plaintext_keys(parent: QWidget) -> bool:
    """Ask before keys may go to a plain file; True when the user agreed."""
    answer = QMessageBox.warning(
        parent, "Store keys unencrypted?", PLAINTEXT_WARNING,
        QMessageBox.StandardButton.Cancel | QMessageBox.StandardButton.Ok,
    )  # fmt: skip
    return answer == QMessageBox.StandardButton.Ok
