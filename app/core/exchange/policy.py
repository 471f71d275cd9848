"""Where a request may go: the rules every path obeys (chat, CLI, Compare, the gateway,
each target `auto` tries), decided in one place before anything is reserved or sent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.core.foundation.errors import ParleyError

if TYPE_CHECKING:
    from collections.abc import Callable


class LocalOnlyError(ParleyError):
    """A request that must stay on this machine was about to go to a cloud source."""


@dataclass(frozen=True, slots=True)
class Policy:
    """The user's rules, read at each request (an edit applies to the next one).

    `keeps_local(project, conversation_id)` says why a request must stay on this
    machine (a "keep local" project or conversation), or None; `bill_to(project)`
    names the organisation that pays for a project's cloud requests (HF), or None.
    """

    keeps_local: Callable[[str | None, int | None], str | None]
    bill_to: Callable[[str | None], str | None]

    def local_reason(
        self, project: str | None, conversation_id: int | None, local_only: bool
    ) -> str | None:
        if local_only:
            return "this conversation is marked local only"
        return self.keeps_local(project, conversation_id)


def refuse_cloud(reason: str, backend: str) -> LocalOnlyError:
    return LocalOnlyError(
        f"This request must stay on this machine ({reason}), so Parley won't send it to "
        f"'{backend}'.",
        "Pick a local model (or auto), or change the rule: the conversation's lock, or "
        "`parley routing set --local-projects`.",
    )


NO_POLICY = Policy(lambda _project, _conversation: None, lambda _project: None)
