"""Small GGUF files written from scratch (valid headers, tensor data of the right size)."""

from __future__ import annotations

import struct
from typing import Any

ALIGN = 32
F32 = 0


def _string(s: str) -> bytes:
    raw = s.encode()
    return struct.pack("<Q", len(raw)) + raw


def _value(v: Any) -> bytes:
    if isinstance(v, bool):
        return struct.pack("<I?", 7, v)
    if isinstance(v, int):
        return struct.pack("<IQ", 10, v)  # uint64
    if isinstance(v, float):
        return struct.pack("<If", 6, v)
    if isinstance(v, str):
        return struct.pack("<I", 8) + _string(v)
    raise TypeError(type(v))


def gguf_header(
    metadata: dict[str, Any], tensors: list[tuple[str, tuple[int, ...]]]
) -> tuple[bytes, int]:
    """A GGUF v3 header with F32 tensors, padded to the data offset; also the data size."""
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(metadata)))
    for key, value in metadata.items():
        out += _string(key) + _value(value)
    offset = 0
    for name, shape in tensors:
        out += _string(name) + struct.pack("<I", len(shape))
        out += b"".join(struct.pack("<Q", d) for d in shape)
        out += struct.pack("<IQ", F32, offset)
        count = 1
        for d in shape:
            count *= d
        offset += (count * 4 + ALIGN - 1) // ALIGN * ALIGN
    out += b"\0" * (-len(out) % ALIGN)
    return bytes(out), offset


def llama_metadata(layers: int = 2, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "general.architecture": "llama",
        "general.name": "tiny",
        "general.file_type": 7,  # Q8_0 (names only; the tensors are F32)
        "llama.block_count": layers,
        "llama.context_length": 2048,
        "llama.embedding_length": 64,
        "llama.feed_forward_length": 128,
        "llama.attention.head_count": 4,
        "llama.attention.head_count_kv": 2,
    }
    meta.update(extra)
    return meta


def tiny_gguf(layers: int = 2, width: int = 64) -> bytes:
    tensors = [("token_embd.weight", (width, 32))] + [
        (f"blk.{i}.attn_q.weight", (width, width)) for i in range(layers)
    ]
    header, size = gguf_header(llama_metadata(layers), tensors)
    return header + b"\x01" * size


def split_gguf(parts: int = 2, width: int = 64) -> list[bytes]:
    """A model split like `gguf-split` does: layer i's tensors in part i."""
    out = []
    for i in range(parts):
        meta = llama_metadata(parts) if i == 0 else {}
        meta |= {"split.no": i, "split.count": parts, "split.tensors.count": parts}
        header, size = gguf_header(meta, [(f"blk.{i}.attn_q.weight", (width, width))])
        out.append(header + bytes([i + 2]) * size)
    return out


def huge_gguf_header(layers: int = 40, layer_bytes: int = 5 << 30) -> tuple[bytes, int]:
    """The header of a model far bigger than any test machine: (header bytes, file size)."""
    elements = layer_bytes // 4
    tensors = [(f"blk.{i}.ffn_up.weight", (elements,)) for i in range(layers)]
    meta = llama_metadata(layers, **{"llama.embedding_length": 5120,
                                     "llama.attention.head_count": 32,
                                     "llama.attention.head_count_kv": 8,
                                     "llama.attention.key_length": 128,
                                     "llama.context_length": 131072,
                                     "general.file_type": 15})  # fmt: skip
    header, size = gguf_header(meta, tensors)
    return header, len(header) + size
