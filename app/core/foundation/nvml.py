"""NVIDIA GPUs through NVML (the `nvidia-ml-py` package, imported as `pynvml`).

One path for everything Parley asks the NVIDIA driver: memory and bandwidth for the
hardware probe (`app.core.local.hardware`) and the total-energy counter for the energy
meter (`app.core.billing.energy`). Without the driver (no `libnvidia-ml`), every call
answers "nothing found", never an error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class NvidiaDevice:
    name: str
    memory_total: int  # bytes
    memory_free: int  # bytes
    bandwidth_gbs: float | None  # from the memory clock and bus width; None if NVML won't say


def _nvml() -> Any | None:
    try:
        import pynvml
    except ImportError:  # an install without nvidia-ml-py: no NVIDIA probing
        return None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        logger.debug("NVML: %s", exc)
        return None
    return pynvml


def nvidia_devices() -> list[NvidiaDevice]:
    """Every NVIDIA GPU the driver reports, with its memory; [] without a driver."""
    nvml = _nvml()
    if nvml is None:
        return []
    devices = []
    try:
        for i in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(i)
            name = nvml.nvmlDeviceGetName(handle)
            name = name.decode() if isinstance(name, bytes) else str(name)
            mem = nvml.nvmlDeviceGetMemoryInfo(handle)
            try:  # bandwidth = 2 (double data rate) x memory clock x bus width
                clock = nvml.nvmlDeviceGetMaxClockInfo(handle, nvml.NVML_CLOCK_MEM)
                width = nvml.nvmlDeviceGetMemoryBusWidth(handle)
                bandwidth: float | None = 2 * clock * 1e6 * width / 8 / 1e9
            except nvml.NVMLError:
                bandwidth = None
            devices.append(NvidiaDevice(name, int(mem.total), int(mem.free), bandwidth))
    except nvml.NVMLError as exc:
        logger.info("NVML: %s", exc)
        return []
    finally:
        nvml.nvmlShutdown()
    return devices


class NvmlEnergyCounter:
    """NVML's total energy over all NVIDIA GPUs (millijoules since the driver loaded, Volta
    and newer). Keeps NVML open for its lifetime; `read_j()` is None where it can't read."""

    def __init__(self) -> None:
        self._nvml = _nvml()
        self._handles: list[Any] = []
        if self._nvml is None:
            return
        try:
            self._handles = [self._nvml.nvmlDeviceGetHandleByIndex(i)
                             for i in range(self._nvml.nvmlDeviceGetCount())]  # fmt: skip
        except self._nvml.NVMLError as exc:
            logger.info("NVML: %s", exc)
            self._handles = []

    def read_j(self) -> float | None:
        if self._nvml is None or not self._handles:
            return None
        try:
            total = sum(self._nvml.nvmlDeviceGetTotalEnergyConsumption(h) for h in self._handles)
        except self._nvml.NVMLError:  # pre-Volta GPUs have no energy counter
            return None
        return float(total) / 1000.0
