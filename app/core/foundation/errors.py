"""Errors that carry a message a user can act on.

`ParleyError` is an environment or input failure ("known error"): the UI and
CLI show `str(error)` as is. Anything else is a bug and gets "Something went
wrong" plus a logged traceback.
"""

from __future__ import annotations


class ParleyError(Exception):
    """A failure the user can fix; `str()` says what failed and what to do next."""

    def __init__(self, message: str, hint: str = "") -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message} {hint}".strip())


class DataDirError(ParleyError):
    """The data directory cannot be created or written."""


class ModelError(ParleyError):
    """A model file is missing, unreadable, not GGUF, truncated or unsupported."""


class UnknownTargetError(ParleyError):
    """The backend or model named by the user does not exist."""


class PromptTooLongError(ParleyError):
    """The newest message alone does not fit the model's context."""


class GenerationError(ParleyError):
    """The backend failed while producing an answer."""


class NotFoundError(ParleyError):
    """A conversation or message id that does not exist."""
