"""Installed local models: the GGUF files in Parley's models folder."""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.core.foundation.errors import ModelError, UnknownTargetError
from app.core.foundation.settings import ACTIVE_MODEL, Settings

if TYPE_CHECKING:
    from app.core.local.gguf import GGUFHeader

STARTER_NAME = "SmolLM2-135M-Instruct.Q4_1"


@dataclass(frozen=True, slots=True)
class InstalledModel:
    name: str
    path: Path
    size_bytes: int
    quantization: str | None
    architecture: str
    context_length: int | None
    parameters: int

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "path": str(self.path),
            "size_bytes": self.size_bytes,
            "quantization": self.quantization,
            "architecture": self.architecture,
            "context_length": self.context_length,
            "parameters": self.parameters,
        }


_header_cache: dict[tuple[str, int, int], GGUFHeader] = {}
_header_lock = threading.Lock()


def header_for(path: Path) -> GGUFHeader:
    """`read_gguf`, cached by path, size and mtime (model files are large and immutable)."""
    try:
        st = path.stat()
    except OSError as exc:
        raise ModelError(f"The model file {path} does not exist.") from exc
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _header_lock:
        if key in _header_cache:
            return _header_cache[key]
    from app.core.local.gguf import read_gguf  # only when the summary index is stale

    header = read_gguf(path)
    with _header_lock:
        _header_cache[key] = header
    return header


# Split models (`name-00001-of-00003.gguf`): llama.cpp loads the first part and finds the rest.
_SPLIT_PART = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)


def _is_later_split_part(path: Path) -> bool:
    match = _SPLIT_PART.search(path.name)
    return bool(match) and int(match.group(1)) > 1  # type: ignore[union-attr]


def _size_with_parts(path: Path) -> int:
    match = _SPLIT_PART.search(path.name)
    if not match or int(match.group(1)) != 1:
        return path.stat().st_size
    count = match.group(2)
    stem = path.name[: match.start()]
    parts = [path.with_name(f"{stem}-{i:05d}-of-{count}.gguf") for i in range(1, int(count) + 1)]
    return sum(p.stat().st_size for p in parts if p.exists())


INDEX_NAME = ".parley-models.json"
_index_lock = threading.Lock()
_indexes: dict[Path, dict[str, dict[str, Any]]] = {}


def describe(path: Path) -> InstalledModel:
    """The model's summary, from the folder's index when the file is unchanged.

    Parsing a header walks every token string (15 ms for a small model, more for
    a large vocabulary), so start-up reads the index instead.
    """
    st = path.stat()
    stamp = [st.st_size, st.st_mtime_ns]
    entry = _index(path.parent).get(path.name)
    if entry is None or entry.get("stamp") != stamp:
        header = header_for(path)
        entry = {
            "stamp": stamp,
            "quantization": header.quantization or _quant_from_name(path.stem),
            "architecture": header.architecture,
            "context_length": header.context_length,
            "parameters": header.parameter_count,
        }
        _remember(path, entry)
    return InstalledModel(
        name=path.stem,
        path=path,
        size_bytes=_size_with_parts(path),
        quantization=entry["quantization"],
        architecture=entry["architecture"],
        context_length=entry["context_length"],
        parameters=entry["parameters"],
    )


def _index(folder: Path) -> dict[str, dict[str, Any]]:
    with _index_lock:
        if folder not in _indexes:
            try:
                loaded = json.loads((folder / INDEX_NAME).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                loaded = {}
            _indexes[folder] = loaded if isinstance(loaded, dict) else {}
        return _indexes[folder]


def _remember(path: Path, entry: dict[str, Any]) -> None:
    folder = path.parent
    with _index_lock:
        index = _indexes.setdefault(folder, {})
        index[path.name] = entry
        try:  # a cache: a read-only folder just means parsing again next time
            tmp = folder / f"{INDEX_NAME}.{os.getpid()}.tmp"
            tmp.write_text(json.dumps(index), encoding="utf-8")
            os.replace(tmp, folder / INDEX_NAME)
        except OSError:
            pass


def _quant_from_name(stem: str) -> str | None:
    parts = stem.replace("-", ".").split(".")
    for part in reversed(parts):
        if part.upper().startswith(("Q", "IQ", "F16", "BF16", "F32")):
            return part.upper()
    return None


class ModelCatalog:
    def __init__(self, models_dir: Path, settings: Settings | None = None) -> None:
        self.models_dir = models_dir
        self.settings = settings

    def list(self) -> list[InstalledModel]:
        """Every readable GGUF in the models folder, by name. Broken files are skipped."""
        if not self.models_dir.is_dir():
            return []
        found = []
        for path in sorted(self.models_dir.glob("*.gguf")):
            if _is_later_split_part(path):
                continue
            try:
                found.append(describe(path))
            except ModelError:
                continue
        return found

    def resolve(self, name_or_path: str) -> InstalledModel:
        """An installed model by name, or any `.gguf` path; raise with a hint otherwise."""
        candidate = Path(name_or_path).expanduser()
        if name_or_path.endswith(".gguf") or candidate.is_file():
            if not candidate.exists():
                raise ModelError(f"The model file {candidate} does not exist.")
            return describe(candidate.resolve())
        path = self.models_dir / f"{name_or_path}.gguf"
        if path.is_file():
            return describe(path)
        names = ", ".join(m.name for m in self.list()) or "none yet"
        raise UnknownTargetError(
            f"There is no local model called '{name_or_path}'.",
            f"Installed models: {names}. Use a name from `parley models list` or a .gguf path.",
        )

    def active(self) -> InstalledModel | None:
        """The model the user chose, else the starter, else the first installed one."""
        chosen = self.settings.get(ACTIVE_MODEL) if self.settings else None
        for name in (chosen, STARTER_NAME):
            if name:
                try:
                    return self.resolve(name)
                except (ModelError, UnknownTargetError):
                    continue
        models = self.list()
        return models[0] if models else None

    def set_active(self, name_or_path: str) -> InstalledModel:
        model = self.resolve(name_or_path)
        if self.settings is not None:
            self.settings.set(ACTIVE_MODEL, model.name if model.path.parent == self.models_dir
                              else str(model.path))
        return model
