"""The devices this build of llama.cpp can run layers on, as llama.cpp itself lists them.

ggml's backend registry (`ggml_backend_dev_*` in ggml-backend.h) is what llama.cpp
offloads to; llama-cpp-python does not bind it, so the five calls are declared here
against the library it already loaded. A Vulkan build lists every Vulkan GPU
(llama.cpp skips CPU-type devices such as Mesa's llvmpipe unless
GGML_VK_VISIBLE_DEVICES names them); memory comes from the backend (Vulkan: the
driver's memory budget).
"""

from __future__ import annotations

import ctypes
import logging
from dataclasses import dataclass

logger = logging.getLogger(__name__)

# enum ggml_backend_dev_type
DEVICE_TYPES = {0: "cpu", 1: "gpu", 2: "igpu", 3: "accel"}


@dataclass(frozen=True, slots=True)
class LlamaDevice:
    name: str  # llama.cpp's device name: CPU, Vulkan0, CUDA0, Metal, ...
    description: str  # the hardware: "NVIDIA GeForce RTX 4090", "llvmpipe (LLVM 15.0.6)"
    type: str  # cpu | gpu | igpu | accel
    memory_total: int  # bytes
    memory_free: int  # bytes


def quiet_llama_log() -> None:
    """Keep llama.cpp's warnings (e.g. ggml_vulkan's "No devices found.") off the terminal:
    Parley says what matters in its own words. Errors still show; verbose loads (the
    benches) turn the log back on."""
    llama_logger = logging.getLogger("llama-cpp-python")
    if llama_logger.level == logging.NOTSET:
        llama_logger.setLevel(logging.ERROR)


def _library() -> ctypes.CDLL | None:
    quiet_llama_log()
    try:
        from llama_cpp import llama_cpp as bindings

        lib: ctypes.CDLL = bindings._lib
        lib.ggml_backend_reg_count.restype = ctypes.c_size_t
        lib.ggml_backend_reg_get.argtypes = [ctypes.c_size_t]
        lib.ggml_backend_reg_get.restype = ctypes.c_void_p
        lib.ggml_backend_reg_name.argtypes = [ctypes.c_void_p]
        lib.ggml_backend_reg_name.restype = ctypes.c_char_p
        lib.ggml_backend_dev_count.restype = ctypes.c_size_t
        lib.ggml_backend_dev_get.argtypes = [ctypes.c_size_t]
        lib.ggml_backend_dev_get.restype = ctypes.c_void_p
        for fn in (lib.ggml_backend_dev_name, lib.ggml_backend_dev_description):
            fn.argtypes = [ctypes.c_void_p]
            fn.restype = ctypes.c_char_p
        lib.ggml_backend_dev_type.argtypes = [ctypes.c_void_p]
        lib.ggml_backend_dev_type.restype = ctypes.c_int
        size_p = ctypes.POINTER(ctypes.c_size_t)
        lib.ggml_backend_dev_memory.argtypes = [ctypes.c_void_p, size_p, size_p]
        lib.ggml_backend_dev_memory.restype = None
    except (ImportError, OSError, AttributeError) as exc:
        logger.info("llama.cpp's device list is not available: %s", exc)
        return None
    return lib


def llama_backends() -> list[str] | None:
    """The backends compiled into this llama.cpp (CPU, Vulkan, CUDA, Metal, ...), whether
    or not they found a device; None when llama.cpp can't be loaded."""
    lib = _library()
    if lib is None:
        return None
    regs = (lib.ggml_backend_reg_get(i) for i in range(lib.ggml_backend_reg_count()))
    return [(lib.ggml_backend_reg_name(r) or b"").decode("utf-8", "replace") for r in regs]


def llama_devices() -> list[LlamaDevice]:
    """Every device in llama.cpp's backend registry; [] when llama.cpp can't be loaded."""
    lib = _library()
    if lib is None:
        return []
    devices = []
    for i in range(lib.ggml_backend_dev_count()):
        dev = lib.ggml_backend_dev_get(i)
        free, total = ctypes.c_size_t(0), ctypes.c_size_t(0)
        lib.ggml_backend_dev_memory(dev, ctypes.byref(free), ctypes.byref(total))
        devices.append(LlamaDevice(
            (lib.ggml_backend_dev_name(dev) or b"").decode("utf-8", "replace"),
            (lib.ggml_backend_dev_description(dev) or b"").decode("utf-8", "replace"),
            DEVICE_TYPES.get(lib.ggml_backend_dev_type(dev), "other"),
            int(total.value), int(free.value),
        ))  # fmt: skip
    return devices
