"""Pick the targets for an `auto` request, in the order to try them, each with its reason.

`Router.routes()` reads the policy, what is installed and loaded here, each
provider's price and the speeds the ledger measured, and returns `Route`s:
the first is the choice, the rest the fallback order. Nothing is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.core.exchange import NoRouteError
from app.core.llm.contract import RequestContext, TokenSource
from app.core.llm.targets import AUTO, LOCAL, Route, Target
from app.core.llm.token_estimate import estimate_prompt_tokens
from app.core.routing.policy import RoutingPolicy, load_policy

if TYPE_CHECKING:
    from collections.abc import Callable

    from app.core.billing.ledger import Ledger
    from app.core.foundation.settings import Settings
    from app.core.llm.contract import GenerationRequest
    from app.core.local.catalog import ModelCatalog
    from app.core.providers._config import ProviderConfig, ProviderStore

__all__ = ["AUTO", "NoRouteError", "Route", "Router"]


@dataclass(frozen=True, slots=True)
class _Cloud:
    config: ProviderConfig
    model: str
    worst_cost: float | None
    currency: str | None
    speed: float | None
    priced: bool  # a price per token, or an hourly rate


class Router:
    def __init__(
        self,
        settings: Settings,
        catalog: ModelCatalog,
        providers: ProviderStore,
        ledger: Callable[[], Ledger],
        loaded_path: Callable[[], str | None],
        is_offline: Callable[[], bool],
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.providers = providers
        self._ledger = ledger
        self._loaded_path = loaded_path
        self.is_offline = is_offline

    def policy(self) -> RoutingPolicy:
        return load_policy(self.settings)

    def routes(self, request: GenerationRequest, context: RequestContext) -> list[Route]:
        """The targets to try, best first; raise `NoRouteError` when none may answer."""
        policy = self.policy()
        local = self.catalog.active()
        kept = "this conversation is local only" if context.local_only else policy.keeps_local(
            context.project, context.conversation_id
        )
        if kept:
            if local is None:
                raise NoRouteError(
                    f"This request must stay on this machine ({kept}), but no local model "
                    "is installed.",
                    "Install one in the Models tab or with `parley models install-starter`.",
                )
            return [Route(Target(LOCAL, local.name), f"kept local: {kept}")]

        clouds, notes = self._clouds(request, policy)
        ordered = self._order(clouds, policy)
        cloud_routes = [
            Route(Target(c.config.name, c.model), self._cloud_reason(c, policy, i))
            for i, c in enumerate(ordered)
        ]
        # A cloud route without a known price never goes before the local model.
        unpriced = [r for r, c in zip(cloud_routes, ordered, strict=True) if not c.priced]
        cloud_routes = [r for r in cloud_routes if r not in unpriced]
        if local is None:
            routes = [*cloud_routes, *unpriced]
        else:
            target = Target(LOCAL, local.name)
            speed = self._ledger().recent_speed(LOCAL, local.name)
            loaded = self._loaded_path() == str(local.path)
            threshold = policy.prefer_local_min_tps
            if loaded and speed is not None and speed >= threshold:
                local_route = Route(target, f"local: {local.name} is loaded and runs at "
                                    f"{speed:.0f} tokens/s (at least {threshold:g})")  # fmt: skip
                routes = [local_route, *cloud_routes, *unpriced]
            else:
                state = "not loaded" if not loaded else (
                    "not measured yet" if speed is None else f"at {speed:.0f} tokens/s")
                if cloud_routes:
                    first = cloud_routes[0]
                    why = f"{first.reason}; the local model is {state}"
                    cloud_routes[0] = Route(first.target, why)
                    routes = [*cloud_routes, Route(target, f"fallback: {local.name}"),
                              *unpriced]  # fmt: skip
                elif unpriced:
                    why = "; ".join([*notes, "no cloud provider has a known price"])
                    routes = [Route(target, f"local: {local.name} ({why})"), *unpriced]
                else:
                    why = "; ".join(notes) if notes else "no cloud provider is set up"
                    routes = [Route(target, f"local: the only target ({why})")]
        if not routes:
            raise NoRouteError(
                "No model can answer this request: " + ("; ".join(notes) or "none is set up")
                + ".",
                "Install a local model, add a cloud provider, or relax the routing policy.",
            )
        return _apply_fallback_order(routes, policy.fallback)

    # internals -------------------------------------------------------------
    def _clouds(
        self, request: GenerationRequest, policy: RoutingPolicy
    ) -> tuple[list[_Cloud], list[str]]:
        from app.core.providers._openai import provider_label

        if self.is_offline():
            return [], ["offline mode is on"]
        ledger = self._ledger()
        prompt_tokens = estimate_prompt_tokens(request.messages)
        found: list[_Cloud] = []
        skipped: list[str] = []
        for config in self.providers.list():
            if not config.model:
                continue
            if not config.has_key and config.kind.key_required:
                skipped.append(f"{config.name} has no API key")
                continue
            model = config.model
            if config.kind.hf_router and ":" not in model:
                model = f"{model}:{policy.cloud_choice}"
            # The window's cost-before-sending figure, on an estimate: routing never waits
            # seconds for a tokenizer to load.
            quote = ledger.quote(
                backend=config.name, provider=provider_label(config), model=model,
                prompt_tokens=prompt_tokens, token_source=str(TokenSource.ESTIMATED),
                max_tokens=request.sampling.max_tokens,
            )  # fmt: skip
            worst = quote.amount
            limit = policy.max_request_cost
            if limit is not None and (worst is None or worst > limit):
                skipped.append(
                    f"{config.name} has no known price" if worst is None
                    else f"{config.name} could cost {worst:.4f}, over the {limit:g} limit"
                )
                continue
            speed = ledger.recent_speed(config.name)
            priced = worst is not None or quote.basis == "hourly"
            found.append(_Cloud(config, model, worst, quote.currency, speed, priced))
        return found, skipped

    @staticmethod
    def _order(clouds: list[_Cloud], policy: RoutingPolicy) -> list[_Cloud]:
        if policy.cloud_choice == "fastest":
            return sorted(clouds, key=lambda c: (c.speed is None, -(c.speed or 0.0)))
        return sorted(clouds, key=lambda c: (c.worst_cost is None, c.worst_cost or 0.0))

    @staticmethod
    def _cloud_reason(c: _Cloud, policy: RoutingPolicy, index: int) -> str:
        if policy.cloud_choice == "fastest":
            measure = f"{c.speed:.0f} tokens/s" if c.speed is not None else "speed not measured"
        else:
            measure = (f"at most {c.currency} {c.worst_cost:.4f}" if c.worst_cost is not None
                       else "no known price")  # fmt: skip
        head = f"{policy.cloud_choice}" if index == 0 else "fallback"
        return f"{head}: {c.config.name} ({measure})"


def _apply_fallback_order(routes: list[Route], order: tuple[str, ...]) -> list[Route]:
    """Keep the choice first; sort the rest by the user's fallback order (others after)."""
    if not order or len(routes) < 2:
        return routes
    rank = {name: i for i, name in enumerate(order)}
    first, rest = routes[0], routes[1:]
    return [first, *sorted(rest, key=lambda r: rank.get(r.target.backend, len(rank)))]
