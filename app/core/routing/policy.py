"""The user's routing policy for `auto`, in plain terms, kept in settings as JSON.

- keep these projects (and conversations) local, whatever else is set;
- the most a single cloud request may cost (its worst case: the prompt plus
  max tokens at the model's price), in the price's currency;
- prefer the local model when it is loaded and its measured speed is at least
  N tokens/s;
- otherwise the cheapest or the fastest provider (on Hugging Face, the router's
  own `:cheapest` / `:fastest` policies);
- a fallback order of backend names for when a target fails before its first
  token (empty: the remaining candidates in the order above, local last).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from app.core.foundation.errors import ParleyError
from app.core.foundation.text_fold import name_key, plain_name

if TYPE_CHECKING:
    from app.core.foundation.settings import Settings

POLICY_KEY = "routing.policy"
CloudChoice = Literal["cheapest", "fastest"]
CLOUD_CHOICES: tuple[CloudChoice, ...] = ("cheapest", "fastest")


class PolicyError(ParleyError):
    """A routing policy value that makes no sense."""


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    local_projects: tuple[str, ...] = ()
    local_conversations: tuple[int, ...] = ()
    max_request_cost: float | None = None
    prefer_local_min_tps: float = 5.0
    cloud_choice: CloudChoice = "cheapest"
    fallback: tuple[str, ...] = field(default=())

    def validated(self) -> RoutingPolicy:
        cost = self.max_request_cost
        if cost is not None and (math.isnan(cost) or math.isinf(cost) or cost <= 0):
            raise PolicyError(
                "The most a request may cost must be a positive amount.",
                "Use e.g. 0.05, or leave it empty for no limit.",
            )
        if not 0 <= self.prefer_local_min_tps < 10_000:
            raise PolicyError("The local speed threshold must be between 0 and 10,000 tokens/s.")
        if self.cloud_choice not in CLOUD_CHOICES:
            raise PolicyError(
                f"Unknown cloud choice '{self.cloud_choice}'.", "Use cheapest or fastest."
            )
        return self

    def keeps_local(self, project: str | None, conversation_id: int | None) -> str | None:
        """Why this request must stay on this machine, or None."""
        # Compared as a person reads them: `Clinic`, `CLINIC` or `clin\u200bic` is `clinic`.
        if project and name_key(project) in {name_key(p) for p in self.local_projects}:
            return f"project '{plain_name(project)}' is kept local"
        if conversation_id is not None and conversation_id in self.local_conversations:
            return "this conversation is kept local"
        return None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_policy(settings: Settings) -> RoutingPolicy:
    raw = settings.get(POLICY_KEY, {})
    if not isinstance(raw, dict):
        return RoutingPolicy()
    known = {k: v for k, v in raw.items() if k in RoutingPolicy.__slots__}
    for key in ("local_projects", "local_conversations", "fallback"):
        if isinstance(known.get(key), list):
            known[key] = tuple(known[key])
    try:
        return RoutingPolicy(**known).validated()
    except (TypeError, PolicyError):
        return RoutingPolicy()  # a hand-edited, broken policy must not stop requests


def save_policy(settings: Settings, policy: RoutingPolicy) -> RoutingPolicy:
    settings.set(POLICY_KEY, policy.validated().to_dict())
    return policy
