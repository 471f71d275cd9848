"""The composition root: everything a front end (CLI or window) needs, wired once."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app.core import offline
from app.core.chat import BackendRegistry, ChatService
from app.core.conversations import ConversationStore
from app.core.http import close_shared_client
from app.core.ledger import Ledger
from app.core.local_backend import LocalBackend
from app.core.models import ModelCatalog
from app.core.paths import data_dir, database_path, ensure_writable_dir, models_dir
from app.core.providers import ProviderService, ProviderStore, provider_options, register_providers
from app.core.secrets import KeyStore
from app.core.settings import OFFLINE_MODE, Settings
from app.core.storage import Database
from app.core.targets import LOCAL, Target, TargetOption

if TYPE_CHECKING:
    from pathlib import Path

logger = logging.getLogger(__name__)


@dataclass
class AppContext:
    root: Path
    db: Database
    store: ConversationStore
    ledger: Ledger
    settings: Settings
    catalog: ModelCatalog
    backends: BackendRegistry
    chat: ChatService
    local: LocalBackend = field(repr=False)
    providers: ProviderService = field(repr=False)

    @classmethod
    def open(cls, root: Path | None = None) -> AppContext:
        """Open (creating if needed) the data dir; raise `DataDirError` with a hint if we can't."""
        root = ensure_writable_dir(root or data_dir())
        ensure_writable_dir(models_dir(root))
        db = Database(database_path(root))
        settings = Settings(db)
        catalog = ModelCatalog(models_dir(root), settings)
        local = LocalBackend(catalog)
        backends = BackendRegistry()
        backends.register(LOCAL, lambda: local)
        store = ConversationStore(db)
        ledger = Ledger(db)
        chat = ChatService(store, ledger, backends)
        # issue 4: each configured cloud provider is a backend under its own name.
        keys = KeyStore(settings, root)
        provider_store = ProviderStore(db)

        def is_offline() -> bool:
            return bool(settings.get(OFFLINE_MODE, False))

        register_providers(backends, provider_store, keys, is_offline)
        offline.install(is_offline)  # model search and downloads honour it too
        providers = ProviderService(provider_store, keys, backends, ledger, is_offline)
        return cls(root, db, store, ledger, settings, catalog, backends, chat, local, providers)

    def default_target(self) -> Target | None:
        model = self.catalog.active()
        return Target(LOCAL, model.name) if model else None

    def target_options(self) -> list[TargetOption]:
        """Everything the model control offers: local models first, then providers."""
        options = [
            TargetOption(
                Target(LOCAL, m.name),
                m.name,
                "Local models",
                detail=f"{m.quantization or '?'} · {m.size_bytes / 1e9:.1f} GB",
            )
            for m in self.catalog.list()
        ]
        offline = bool(self.settings.get(OFFLINE_MODE, False))
        options += provider_options(self.providers.store, offline)
        return options

    def close(self) -> None:
        offline.uninstall(self.providers.is_offline)
        self.local.unload()
        close_shared_client()
        self.db.close()
