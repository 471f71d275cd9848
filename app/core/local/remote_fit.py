"""A repo's GGUF files with a fit verdict each (remote headers read in parallel)."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.core.foundation.errors import ParleyError
from app.core.local import hub
from app.core.local.fit import FitEstimate, ModelShape, estimate
from app.core.local.hardware import cached_probe

if TYPE_CHECKING:
    import threading

    from app.core.local.hardware import Hardware
    from app.core.local.hub import RemoteModel

logger = logging.getLogger(__name__)
HEADER_WORKERS = 4


@dataclass(frozen=True, slots=True)
class AssessedModel:
    model: RemoteModel
    architecture: str | None
    context_length: int | None
    layers: int | None
    quantization: str | None
    fit: FitEstimate | None
    error: str | None  # why the header could not be read

    def to_dict(self) -> dict[str, object]:
        m = self.model
        return {
            "repo": m.repo_id,
            "name": m.name,
            "file": m.first.path,
            "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in m.files],
            "parts": len(m.files),
            "complete": m.complete,
            "size": m.size,
            "quantization": self.quantization,
            "architecture": self.architecture,
            "context_length": self.context_length,
            "layers": self.layers,
            "fit": self.fit.to_dict() if self.fit else None,
            "error": self.error,
        }


def assess_model(
    model: RemoteModel, hw: Hardware, n_ctx: int | None = None, revision: str = "main"
) -> AssessedModel:
    """Read the first part's header remotely and estimate the fit of the whole model."""
    try:
        header, _ = hub.fetch_header(model.repo_id, model.first.path, revision)
    except ParleyError as exc:
        return AssessedModel(model, None, None, None, model.quantization, None, str(exc))
    shape = ModelShape.from_header(header, model.size)
    return AssessedModel(
        model,
        header.architecture,
        header.context_length,
        header.block_count,
        header.quantization or model.quantization,
        estimate(shape, hw, n_ctx),
        None,
    )


def assess_repo(
    repo_id: str,
    n_ctx: int | None = None,
    revision: str = "main",
    hw: Hardware | None = None,
    cancel: threading.Event | None = None,
) -> list[AssessedModel]:
    models = hub.repo_files(repo_id, revision)
    hw = hw or cached_probe()
    if not models:
        return []
    with ThreadPoolExecutor(max_workers=min(HEADER_WORKERS, len(models))) as pool:
        futures = [pool.submit(assess_model, m, hw, n_ctx, revision) for m in models]
        results = []
        for future in futures:
            if cancel is not None and cancel.is_set():
                for f in futures:
                    f.cancel()
                break
            results.append(future.result())
    return results
