"""Settings → Providers: cloud providers and their keys, plus the privacy switches."""

from app.ui.providers.dialog import ProvidersDialog, open_providers_dialog

__all__ = ["ProvidersDialog", "open_providers_dialog"]
