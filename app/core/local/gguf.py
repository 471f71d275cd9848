"""Read a GGUF file's header: metadata, tensor table, and whether the file is whole.

Only the header is read (a few MB at most), so this also works on the first
megabytes fetched from a remote file.

Model files come from strangers, so the reader is bounded: a value that
asks for more than `MAX_READ` bytes, arrays nested deeper than `MAX_NESTING`,
more than `MAX_DIMS` dimensions, or a header past `MAX_HEADER` bytes is a
corrupt header (`ModelError`), never a huge allocation, a deep recursion or a
long loop. Metadata values are used only when they have the expected type.
The quantization block sizes match the `gguf` package's `GGML_QUANT_SIZES`
(a test keeps them in step).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from app.core.foundation.errors import ModelError

if TYPE_CHECKING:
    from pathlib import Path

GGUF_MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32

# ggml tensor types: (elements per block, bytes per block)
_GGML_TYPE_SIZES: dict[int, tuple[int, int]] = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24),
    8: (32, 34), 9: (32, 40), 10: (256, 84), 11: (256, 110), 12: (256, 144),
    13: (256, 176), 14: (256, 210), 15: (256, 292), 16: (256, 66), 17: (256, 74),
    18: (256, 98), 19: (256, 50), 20: (32, 18), 21: (256, 110), 22: (256, 82),
    23: (256, 136), 24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8),
    29: (256, 56), 30: (1, 2), 34: (256, 54), 35: (256, 66), 39: (32, 17),
    40: (64, 36), 41: (128, 18),
}  # fmt: skip

# llama_ftype -> the name users know (general.file_type)
FILE_TYPES: dict[int, str] = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
    10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M",
    16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S",
    22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M",
    28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0",
    37: "TQ2_0", 38: "MXFP4_MOE",
}  # fmt: skip

# value types: struct format for the scalar ones
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
            10: "<Q", 11: "<q", 12: "<d"}  # fmt: skip
_STRING, _ARRAY = 8, 9
_U64 = struct.Struct("<Q")
# Arrays longer than this (token lists) are skipped, not kept.
_KEEP_ARRAY_MAX = 64
MAX_READ = 1 << 26  # one value: a 64 MiB string or scalar array is already absurd
MAX_HEADER = 1 << 29  # 512 MiB of header (real ones: 1-20 MB, most of it the vocabulary)
MAX_NESTING = 4  # arrays of arrays
MAX_DIMS = 8  # ggml has 4
MAX_COUNT = 1 << 20  # tensors, keys


def _int(value: Any) -> int | None:
    """A metadata value as an int when it is one (bools and floats are not)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    ggml_type: int
    offset: int

    @property
    def nbytes(self) -> int | None:
        size = _GGML_TYPE_SIZES.get(self.ggml_type)
        if size is None:
            return None
        count = 1
        for dim in self.shape:
            count *= dim
        block, block_bytes = size
        return (count + block - 1) // block * block_bytes


@dataclass(frozen=True, slots=True)
class GGUFHeader:
    version: int
    metadata: dict[str, Any]
    tensors: tuple[TensorInfo, ...]
    data_offset: int
    expected_size: int | None  # None when a tensor type is unknown to us
    header_bytes: int = field(default=0)

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", "unknown"))

    def arch_value(self, key: str) -> Any:
        return self.metadata.get(f"{self.architecture}.{key}")

    @property
    def context_length(self) -> int | None:
        return _int(self.arch_value("context_length"))

    @property
    def block_count(self) -> int | None:
        return _int(self.arch_value("block_count"))

    @property
    def quantization(self) -> str | None:
        ftype = _int(self.metadata.get("general.file_type"))
        return FILE_TYPES.get(ftype) if ftype is not None else None

    @property
    def chat_template(self) -> str | None:
        value = self.metadata.get("tokenizer.chat_template")
        return value if isinstance(value, str) and value else None

    @property
    def parameter_count(self) -> int:
        total = 0
        for t in self.tensors:
            count = 1
            for dim in t.shape:
                count *= dim
            total += count
        return total

    def kv_bytes_per_token(self, bytes_per_element: int = 2) -> int | None:
        """KV cache per token: 2 (K and V) x layers x kv heads x head dim x element size."""
        layers = self.block_count
        heads = _int(self.arch_value("attention.head_count"))
        kv_heads = _int(self.arch_value("attention.head_count_kv")) or heads
        embedding = _int(self.arch_value("embedding_length"))
        head_dim = _int(self.arch_value("attention.key_length"))
        if head_dim is None and heads and embedding:
            head_dim = embedding // heads
        if not (layers and kv_heads and head_dim) or min(layers, kv_heads, head_dim) < 0:
            return None
        return 2 * layers * kv_heads * head_dim * bytes_per_element


class _Reader:
    """Parses from a growing in-memory buffer: one `read()` per MB, not one per field."""

    _CHUNK = 1 << 20

    def __init__(self, stream: BinaryIO, source: str) -> None:
        self.stream = stream
        self.source = source
        self.buf = b""
        self.pos = 0
        self._base = 0  # file offset of buf[0]

    def _corrupt(self, why: str) -> ModelError:
        return ModelError(f"{self.source} has a corrupt GGUF header ({why}).", "Download it again.")

    def _ensure(self, n: int) -> None:
        if n > MAX_READ or self.offset + n > MAX_HEADER:
            raise self._corrupt(f"a value of {n:,} bytes")
        missing = self.pos + n - len(self.buf)
        if missing > 0:
            data = self.stream.read(max(missing, self._CHUNK))
            self.buf = self.buf[self.pos :] + data
            self._base += self.pos
            self.pos = 0
            if len(self.buf) < n:
                raise ModelError(
                    f"{self.source} is truncated: its GGUF header ends early.",
                    "Download the file again.",
                )

    @property
    def offset(self) -> int:
        """Bytes consumed from the start of the file."""
        return self._base + self.pos

    def read(self, n: int) -> bytes:
        self._ensure(n)
        data = self.buf[self.pos : self.pos + n]
        self.pos += n
        return data

    def scalar(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        self._ensure(size)
        value = struct.unpack_from(fmt, self.buf, self.pos)[0]
        self.pos += size
        return value

    def string(self) -> str:
        length = self.scalar("<Q")
        return self.read(length).decode("utf-8", errors="replace")

    def skip_strings(self, count: int) -> None:
        # The hot loop of a header read (150k+ token strings): keep it local.
        unpack = _U64.unpack_from
        buf, pos = self.buf, self.pos
        for _ in range(count):
            if pos + 8 > len(buf):
                self.pos = pos
                self._ensure(8)
                buf, pos = self.buf, self.pos
            length = unpack(buf, pos)[0]
            pos += 8 + length
            if pos > len(buf):
                self.pos = pos - length
                self._ensure(length)
                buf, pos = self.buf, self.pos + length
        self.pos = pos

    def value(self, vtype: int, depth: int = 0) -> Any:
        if vtype in _SCALARS:
            return self.scalar(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            if depth >= MAX_NESTING:
                raise self._corrupt("arrays nested too deep")
            item_type = self.scalar("<I")
            count = self.scalar("<Q")
            if item_type not in _SCALARS and item_type not in (_STRING, _ARRAY):
                raise self._corrupt(f"value type {item_type}")
            if count > _KEEP_ARRAY_MAX:
                # Token lists and the like: skip without building Python objects.
                if item_type in _SCALARS:
                    self.read(struct.calcsize(_SCALARS[item_type]) * count)
                elif item_type == _STRING:
                    self.skip_strings(count)
                else:
                    if count > MAX_COUNT:
                        raise self._corrupt(f"an array of {count:,} arrays")
                    for _ in range(count):
                        self.value(item_type, depth + 1)
                return None
            return [self.value(item_type, depth + 1) for _ in range(count)]
        raise self._corrupt(f"value type {vtype}")


def read_header(
    stream: BinaryIO, source: str = "The file", file_size: int | None = None
) -> GGUFHeader:
    reader = _Reader(stream, source)
    try:
        magic = reader.read(4)
    except ModelError:
        magic = b""
    if magic != GGUF_MAGIC:
        raise ModelError(
            f"{source} is not a GGUF model file.",
            "Parley runs llama.cpp models in GGUF format (.gguf); choose one of those.",
        )
    version = reader.scalar("<I")
    if version not in (2, 3):
        raise ModelError(
            f"{source} is not a valid GGUF model file (unknown GGUF version {version}).",
            "It may be damaged or not a model at all; choose another .gguf file.",
        )
    tensor_count = reader.scalar("<Q")
    kv_count = reader.scalar("<Q")
    if tensor_count > MAX_COUNT or kv_count > MAX_COUNT:
        raise ModelError(f"{source} has a corrupt GGUF header.", "Download it again.")
    metadata: dict[str, Any] = {}
    for _ in range(kv_count):
        key = reader.string()
        metadata[key] = reader.value(reader.scalar("<I"))
    tensors = []
    for _ in range(tensor_count):
        name = reader.string()
        n_dims = reader.scalar("<I")
        if n_dims > MAX_DIMS:
            raise ModelError(f"{source} has a corrupt GGUF header.", "Download it again.")
        shape = tuple(reader.scalar("<Q") for _ in range(n_dims))
        tensors.append(TensorInfo(name, shape, reader.scalar("<I"), reader.scalar("<Q")))
    alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if _int(alignment) is None or not 0 < alignment <= 1 << 20:
        raise ModelError(f"{source} has a corrupt GGUF header.", "Download it again.")
    data_offset = (reader.offset + alignment - 1) // alignment * alignment
    sizes = [t.nbytes for t in tensors]
    expected = None
    if tensors and all(s is not None for s in sizes):
        ends = (t.offset + (s or 0) for t, s in zip(tensors, sizes, strict=True))
        expected = data_offset + max(ends)
    header = GGUFHeader(version, metadata, tuple(tensors), data_offset, expected, reader.offset)
    if file_size is not None and expected is not None and file_size < expected:
        raise ModelError(
            f"{source} is truncated: {file_size:,} of {expected:,} bytes.",
            "The download was probably cut off; download it again.",
        )
    return header


def read_gguf(path: Path) -> GGUFHeader:
    """Parse and check a local GGUF file; raise `ModelError` with a hint when it is unusable."""
    name = path.name
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            return read_header(f, name, size)
    except FileNotFoundError as exc:
        raise ModelError(f"The model file {path} does not exist.") from exc
    except IsADirectoryError as exc:
        raise ModelError(f"{path} is a folder, not a model file.") from exc
    except PermissionError as exc:
        raise ModelError(f"Parley may not read the model file {path}.") from exc
