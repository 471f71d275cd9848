"""Provider kinds as data: one row per kind, the one place a kind is described.

Storage validates a provider's kind against `KINDS`, the CLI offers their names
(`--kind`), the providers form lists them, and the wiring builds each one's backend
from its wire format. A kind that speaks a format Parley already has is one row
here; a new format is a module (`_openai.py` is the OpenAI style, `_hf.py` its
Hugging Face router variant) and a `Wire` member.

Readers call `all_kinds()`/`find_kind()`, never copy `KINDS` at import time: a test
may swap the table (tests/providers/test_kinds.py adds a row at runtime).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from app.core.providers._errors import ProviderConfigError

HF_ROUTER_URL = "https://router.huggingface.co/v1"
HF_DEFAULT_MODEL = "mistralai/Mistral-Small-3.2-24B-Instruct-2506"
HF_POLICIES = ("fastest", "cheapest", "preferred")
MISTRAL_URL = "https://api.mistral.ai/v1"
MISTRAL_DEFAULT_MODEL = "mistral-small-latest"


class Wire(StrEnum):
    """The wire formats Parley speaks, one module each (see `_wiring.make_backend`)."""

    OPENAI = "openai"  # _openai.py: POST {base}/chat/completions, Server-Sent Events
    # _hf.py: the OpenAI format through Hugging Face's router: a policy or provider suffix
    # on model ids (`org/model:fastest`), X-HF-Bill-To for a project's organisation.
    HF_ROUTER = "hf-router"


@dataclass(frozen=True, slots=True)
class Kind:
    """One provider kind. `None` as `wire` marks a kind this Parley doesn't know (stored
    by a newer one): it is listed, but can't be used."""

    name: str  # stored in `providers.kind`; what `--kind` takes
    label: str  # what the form, lists and messages call it
    wire: Wire | None = Wire.OPENAI
    base_url: str = ""  # the default; "" = the user must give one (--base-url)
    model: str = ""  # the default model id ("" = none)
    key_required: bool = True  # False: a keyless server (a local llama.cpp, vLLM...) is fine
    # The ledger's `provider` column, who is paid ("" = the base URL's host[:port]);
    # billing finds prices by it.
    ledger_provider: str = ""
    # Asks for usage with `stream_options` (Mistral answers 422 to any field it doesn't
    # know, and sends usage on the last chunk unasked).
    stream_usage: bool = True
    images: bool | None = None  # reads image parts: None = by model name (llm.vision)
    hf_provider: str = ""  # the HF router's default policy, for `Wire.HF_ROUTER`

    @property
    def hf_router(self) -> bool:
        """Reached through Hugging Face's router: a policy per provider, router offers."""
        return self.wire is Wire.HF_ROUTER

    def __str__(self) -> str:
        return self.name


KINDS: tuple[Kind, ...] = (
    Kind("hf", "Hugging Face", Wire.HF_ROUTER, HF_ROUTER_URL, HF_DEFAULT_MODEL,
         ledger_provider="huggingface", hf_provider="fastest"),
    Kind("mistral", "Mistral", base_url=MISTRAL_URL, model=MISTRAL_DEFAULT_MODEL,
         ledger_provider="mistral", stream_usage=False),
    Kind("openai", "OpenAI-compatible", key_required=False),
)  # fmt: skip


class ProviderKind:
    """The shipped kinds by name, for code that must name one (`kind is ProviderKind.HF`).
    Prefer a kind's attributes (`key_required`, `hf_router`) to naming it."""

    HF: Final[Kind] = KINDS[0]
    MISTRAL: Final[Kind] = KINDS[1]
    OPENAI: Final[Kind] = KINDS[2]


def all_kinds() -> tuple[Kind, ...]:
    return KINDS


def kind_names() -> tuple[str, ...]:
    return tuple(k.name for k in KINDS)


def find_kind(name: str) -> Kind | None:
    return next((k for k in KINDS if k.name == name), None)


def parse_kind(kind: Kind | str) -> Kind:
    """The row for `kind` (a name as typed or stored); a clear error for an unknown one."""
    found = find_kind(kind.name if isinstance(kind, Kind) else kind)
    if found is None:
        raise ProviderConfigError(
            f"Unknown provider kind '{kind}'.", f"Use one of: {', '.join(kind_names())}."
        )
    return found


def stored_kind(name: str) -> Kind:
    """The row for a kind read from the database; one this Parley doesn't know (a newer
    Parley stored it) is kept, unusable, so the list still opens."""
    return find_kind(name) or Kind(name, f"unknown kind '{name}'", wire=None)
