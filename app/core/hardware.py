"""What this machine has, as far as local inference cares."""

from __future__ import annotations

import os
from functools import cache


@cache
def physical_cores() -> int:
    """Physical cores available to us; llama.cpp runs best with one thread per core."""
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    logical = available or os.cpu_count() or 1
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cores = set()
            physical = core = ""
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "physical id":
                    physical = value.strip()
                elif key == "core id":
                    core = value.strip()
                    cores.add((physical, core))
    except OSError:
        return logical
    return max(1, min(logical, len(cores) or logical))


def gpu_offload_supported() -> bool:
    """Whether this llama.cpp build has a GPU backend (CUDA, ROCm, Vulkan, Metal)."""
    import llama_cpp

    return bool(llama_cpp.llama_supports_gpu_offload())
