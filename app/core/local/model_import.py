"""Models from elsewhere: import a .gguf, use one from the HF cache or LM Studio in place, delete.

Using a file in place puts a symbolic link in Parley's models folder, so the
catalog lists it and deleting it removes only the link, never the user's file.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.foundation.errors import ModelError
from app.core.local.gguf import read_gguf
from app.core.local.hub import hf_home

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable

    from app.core.local.catalog import InstalledModel, ModelCatalog
    from app.core.local.llama_backend import LocalBackend

logger = logging.getLogger(__name__)

CHUNK = 4 << 20
_SPLIT = re.compile(r"^(?P<stem>.+)-(?P<part>\d{5})-of-(?P<count>\d{5})\.gguf$", re.IGNORECASE)
LM_STUDIO_ENV = "LMSTUDIO_MODELS_DIR"


@dataclass(frozen=True, slots=True)
class FoundModel:
    path: Path
    source: str  # "Hugging Face cache" | "LM Studio"
    size: int
    name: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self) | {"path": str(self.path)}


def split_parts(path: Path) -> list[Path]:
    """All parts of a split model given any part (the file itself otherwise)."""
    match = _SPLIT.match(path.name)
    if not match:
        return [path]
    count = int(match["count"])
    return [path.with_name(f"{match['stem']}-{i:05d}-of-{count:05d}.gguf")
            for i in range(1, count + 1)]  # fmt: skip


def import_model(
    source: Path,
    models_dir: Path,
    *,
    link: bool = False,
    cancel: threading.Event | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Copy (or link, to use in place) a GGUF into the models folder after checking its header."""
    source = source.expanduser().resolve()
    parts = split_parts(source)
    missing = [p.name for p in parts if not p.is_file()]
    if missing:
        raise ModelError(f"{source.name} is part of a split model; missing: {', '.join(missing)}.",
                         "Put every part in the same folder and import again.")  # fmt: skip
    for part in parts:
        read_gguf(part)  # raises ModelError: not GGUF, truncated...
    models_dir.mkdir(parents=True, exist_ok=True)
    targets = [models_dir / p.name for p in parts]
    for target in targets:
        if target.exists() or target.is_symlink():
            raise ModelError(
                f"A model file named {target.name} is already installed.",
                f"Delete it first with `parley models delete {target.stem}`, or rename the file.",
            )
    total = sum(p.stat().st_size for p in parts)
    done = 0
    for part, target in zip(parts, targets, strict=True):
        if link:
            target.symlink_to(part)
            continue
        done = _copy(part, target, done, total, cancel, progress)
    return targets[0]


def _copy(
    src: Path,
    target: Path,
    done: int,
    total: int,
    cancel: threading.Event | None,
    progress: Callable[[int, int], None] | None,
) -> int:
    tmp = target.with_name(f".{target.name}.importing")
    try:
        with src.open("rb") as fin, tmp.open("wb") as fout:
            while chunk := fin.read(CHUNK):
                if cancel is not None and cancel.is_set():
                    raise ModelError("Import cancelled.")
                fout.write(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
        os.replace(tmp, target)
    except OSError as exc:
        raise ModelError(f"Couldn't copy {src.name} into the models folder ({exc.strerror}).",
                         "Free some disk space or import it in place.") from exc  # fmt: skip
    finally:
        tmp.unlink(missing_ok=True)
    return done


def search_roots() -> list[tuple[str, Path]]:
    home = Path.home()
    lm = os.environ.get(LM_STUDIO_ENV)
    lm_roots = [Path(lm)] if lm else [home / ".lmstudio" / "models",
                                      home / ".cache" / "lm-studio" / "models"]  # fmt: skip
    return [("Hugging Face cache", hf_home() / "hub")] + [("LM Studio", r) for r in lm_roots]


def find_existing(
    models_dir: Path, roots: list[tuple[str, Path]] | None = None
) -> list[FoundModel]:
    """GGUF files the user already has elsewhere, not yet in Parley's models folder."""
    installed = {p.resolve() for p in models_dir.glob("*.gguf")} if models_dir.is_dir() else set()
    found: list[FoundModel] = []
    seen: set[Path] = set()
    for source, root in roots if roots is not None else search_roots():
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*.gguf")):
            match = _SPLIT.match(path.name)
            if match and int(match["part"]) != 1:
                continue
            real = path.resolve()
            if real in installed or real in seen or not real.is_file():
                continue
            seen.add(real)
            size = sum(p.resolve().stat().st_size for p in split_parts(path) if p.exists())
            name = match["stem"] if match else path.stem
            found.append(FoundModel(path, source, size, name))
    return found


def delete_model(catalog: ModelCatalog, local: LocalBackend, name: str) -> InstalledModel:
    """Delete an installed model (every part), unloading it first; links lose only the link."""
    model = catalog.resolve(name)
    models_dir = catalog.models_dir.resolve()
    link_or_file = models_dir / model.path.name
    if not (link_or_file.exists() or link_or_file.is_symlink()):
        raise ModelError(
            f"{model.path} is not in Parley's models folder, so Parley will not delete it.",
            "Delete the file yourself if you no longer need it.",
        )
    if local.loaded_path and Path(local.loaded_path).name == model.path.name:
        local.unload()
    for part in split_parts(link_or_file):
        marker = part.with_name(f".{part.name}.verified")
        if part.is_symlink() or part.exists():
            part.unlink()
        marker.unlink(missing_ok=True)
    if catalog.settings is not None:
        from app.core.foundation.settings import ACTIVE_MODEL

        if catalog.settings.get(ACTIVE_MODEL) in (model.name, str(model.path)):
            catalog.settings.delete(ACTIVE_MODEL)
    logger.info("deleted model %s", model.path)
    return model


def free_space(folder: Path) -> int:
    return shutil.disk_usage(folder).free
