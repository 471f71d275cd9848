"""The composition root: everything a front end (CLI or window) needs, wired once.

What the window needs to draw itself (the store, settings, model catalog,
provider configs) opens eagerly; the chat service, ledger, local backend and
provider service are built on first use, so start-up doesn't import them.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, TypeVar, cast

from app.core.chat.conversations import ConversationStore
from app.core.foundation import offline
from app.core.foundation.http import close_shared_client
from app.core.foundation.paths import (
    data_dir,
    database_path,
    ensure_writable_dir,
    make_private,
    models_dir,
)
from app.core.foundation.settings import DEFAULT_TARGET, OFFLINE_MODE, Settings
from app.core.llm.targets import AUTO, LOCAL, Target, TargetOption
from app.core.local.catalog import ModelCatalog
from app.core.providers._config import ProviderStore
from app.core.providers.secrets import KeyStore
from app.core.schema import open_database

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from threading import Event

    from app.core.billing.ledger import Ledger
    from app.core.chat.compare import ComparisonStore
    from app.core.chat.conversations import Message
    from app.core.chat.folders import FolderStore
    from app.core.chat.projects import ProjectStore
    from app.core.chat.service import ChatService
    from app.core.exchange import Exchanges
    from app.core.foundation.storage import Database
    from app.core.gateway.service import Gateway
    from app.core.gateway.tokens import AccessTokens
    from app.core.llm.contract import Backend, GenerationRequest, GenerationResult
    from app.core.llm.registry import BackendRegistry
    from app.core.local.llama_backend import LocalBackend
    from app.core.local.model_controls import ModelControlsStore
    from app.core.providers import ProviderService
    from app.core.routing.router import Router

logger = logging.getLogger(__name__)

_T = TypeVar("_T")


class AppContext:
    def __init__(
        self,
        root: Path,
        db: Database,
        settings: Settings,
        catalog: ModelCatalog,
        provider_store: ProviderStore,
        keys: KeyStore,
    ) -> None:
        self.root = root
        self.db = db
        self.settings = settings
        self.catalog = catalog
        self.store = ConversationStore(db)
        self.provider_store = provider_store
        self.keys = keys
        self._services: dict[str, Any] = {}
        self._budget_warning_handler: Callable[[str], None] | None = None
        # Worker threads may be first to ask for a service: build each exactly once.
        self._services_lock = threading.RLock()

    @classmethod
    def open(cls, root: Path | None = None) -> AppContext:
        """Open (creating if needed) the data dir; raise `DataDirError` with a hint if we can't."""
        root = ensure_writable_dir(root or data_dir())
        ensure_writable_dir(models_dir(root))
        db = open_database(database_path(root))
        make_private(root)  # prompts and answers are the user's alone
        settings = Settings(db)
        catalog = ModelCatalog(models_dir(root), settings)
        ctx = cls(root, db, settings, catalog, ProviderStore(db), KeyStore(settings, root))
        offline.install(ctx.is_offline)  # model search and downloads honour it too
        return ctx

    def is_offline(self) -> bool:
        return bool(self.settings.get(OFFLINE_MODE, False))

    def _service(self, name: str, build: Callable[[], _T]) -> _T:
        with self._services_lock:
            if name not in self._services:
                self._services[name] = build()
            return cast("_T", self._services[name])

    @property
    def ledger(self) -> Ledger:
        from app.core.billing.ledger import Ledger

        def open_ledger() -> Ledger:
            ledger = Ledger(self.db)
            if self._budget_warning_handler is not None:
                ledger.on_budget_warning = self._budget_warning_handler
            return ledger

        return self._service("ledger", open_ledger)

    def route_budget_warnings(self, handler: Callable[[str], None]) -> None:
        """Send the ledger's budget warnings to `handler`, now or once the ledger opens."""
        with self._services_lock:
            self._budget_warning_handler = handler
            if (ledger := self._services.get("ledger")) is not None:
                ledger.on_budget_warning = handler

    @property
    def local(self) -> LocalBackend:
        from app.core.local.llama_backend import LocalBackend

        return self._service("local", lambda: LocalBackend(self.catalog))

    @property
    def model_controls(self) -> ModelControlsStore:
        """Each local model's load controls (context, GPU layers, threads, KV cache, ...)."""
        from app.core.local.model_controls import ModelControlsStore

        return self._service("model_controls", lambda: ModelControlsStore(self.settings))

    @property
    def backends(self) -> BackendRegistry:
        return self._service("backends", self._open_backends)

    def _open_backends(self) -> BackendRegistry:
        from app.core.llm.registry import BackendRegistry
        from app.core.providers import register_providers

        backends = BackendRegistry()
        backends.register(LOCAL, lambda: self.local)
        # issue 4: each configured cloud provider is a backend under its own name.
        register_providers(backends, self.provider_store, self.keys, self.is_offline)
        backends.register(AUTO, self._open_auto)
        return backends

    def _open_auto(self) -> Backend:
        from app.core.routing.auto import AutoBackend

        return AutoBackend(self.router)

    @property
    def router(self) -> Router:
        from app.core.routing.router import Router

        def loaded_path() -> str | None:
            local = self._services.get("local")
            return local.loaded_path if local is not None else None

        return self._service("router", lambda: Router(
            self.settings, self.catalog, self.provider_store, lambda: self.ledger, loaded_path,
            self.is_offline,
        ))  # fmt: skip

    @property
    def access_tokens(self) -> AccessTokens:
        from app.core.gateway.tokens import AccessTokens

        return self._service("access_tokens", lambda: AccessTokens(self.db, self.keys))

    @property
    def gateway(self) -> Gateway:
        """The gateway's core (issue 16); `GatewayServer` puts it on HTTP."""
        from app.core.gateway.service import Gateway

        def local_n_ctx(model: str) -> int | None:
            local = self._services.get("local")
            return local.loaded_n_ctx(model) if local is not None else None

        return self._service("gateway", lambda: Gateway(
            exchanges=lambda: self.exchanges, catalog=self.catalog,
            providers=self.provider_store, is_offline=self.is_offline, local_n_ctx=local_n_ctx,
        ))  # fmt: skip

    @property
    def chat(self) -> ChatService:
        from app.core.chat.service import ChatService

        return self._service("chat", lambda: ChatService(
            self.store, self.ledger, self.backends, self.exchanges
        ))  # fmt: skip

    @property
    def exchanges(self) -> Exchanges:
        """One request, end to end, for every path (chat, Compare, the gateway, `auto`)."""
        from app.core.exchange import Exchanges, Policy
        from app.core.routing.policy import load_policy

        projects = self.projects

        def keeps_local(project: str | None, conversation_id: int | None) -> str | None:
            return load_policy(self.settings).keeps_local(project, conversation_id)

        policy = Policy(keeps_local=keeps_local, bill_to=projects.bill_to)
        return self._service("exchanges", lambda: Exchanges(
            lambda: self.backends, lambda: self.ledger, policy
        ))  # fmt: skip

    @property
    def providers(self) -> ProviderService:
        from app.core.providers import ProviderService

        return self._service(
            "providers",
            lambda: ProviderService(
                self.provider_store, self.keys, self.backends, self._probe, self.is_offline
            ),
        )

    def _probe(
        self, target: Target, request: GenerationRequest, tag: str, cancel: Event | None
    ) -> GenerationResult:
        from app.core.exchange import Origin

        return self.exchanges.open(target, request, Origin(tag=tag), cancel).run().result

    @property
    def folders(self) -> FolderStore:
        """Folders conversations are filed in."""
        from app.core.chat.folders import FolderStore

        return self._service("folders", lambda: FolderStore(self.db))

    @property
    def projects(self) -> ProjectStore:
        """Projects a conversation's spend goes to, and the organisations that pay."""
        from app.core.chat.projects import ProjectStore

        return self._service("projects", lambda: ProjectStore(self.db))

    @property
    def comparisons(self) -> ComparisonStore:
        """Saved Compare runs."""
        from app.core.chat.compare import ComparisonStore

        return self._service("comparisons", lambda: ComparisonStore(self.db))

    def reprice_unpriced(self) -> int:
        """Price ledger rows recorded without a price, now that one is known (a worker's job)."""
        from app.core.billing.costs import reprice_unpriced

        return reprice_unpriced(self.db, self.ledger.prices)

    def backup_due(self) -> Path | None:
        """The database to back up when today's rolling backup is due, else None."""
        from pathlib import Path

        from app.core.foundation import backups

        path = self.db.path
        return path if isinstance(path, Path) and backups.backup_due(path) else None

    def recover_interrupted(self) -> list[Message]:
        """After a crash: bill and mark dangling answers; opens the chat service only if any."""
        if not self.store.has_streaming():
            return []
        return self.chat.recover_interrupted()

    def default_target(self) -> Target | None:
        """The target new conversations get: the one chosen in Preferences while it is still
        offered, else the active local model."""
        chosen = self.settings.get(DEFAULT_TARGET, "")
        if chosen:
            target = Target.parse(str(chosen))
            if target.backend == LOCAL:
                if (self.catalog.models_dir / f"{target.model}.gguf").is_file():
                    return target
            elif self.provider_store.find(target.backend) is not None:
                return target
        model = self.catalog.active()
        return Target(LOCAL, model.name) if model else None

    def loaded_model(self) -> tuple[str, int] | None:
        """The local model in memory and its bytes (weights + context), without loading the
        local backend just to ask."""
        local = self._services.get("local")
        return local.loaded_memory() if local is not None else None

    def target_options(self) -> list[TargetOption]:
        """Everything the model control offers: local models, `auto`, then providers."""
        from app.core.providers._wiring import provider_options

        auto = TargetOption(Target(AUTO, ""), "Auto", "Automatic",
                            detail="local or cloud, each message, by your routing policy")
        options = [
            TargetOption(
                Target(LOCAL, m.name),
                m.name,
                "Local models",
                detail=f"{m.quantization or '?'} · {m.size_bytes / 1e9:.1f} GB",
            )
            for m in self.catalog.list()
        ]
        options.append(auto)
        options += provider_options(self.provider_store, self.is_offline())
        return options

    def close(self) -> None:
        offline.uninstall(self.is_offline)
        if (local := self._services.get("local")) is not None:
            local.unload()
        close_shared_client()
        self.db.close()

    def __repr__(self) -> str:
        return f"AppContext(root={self.root!r})"
