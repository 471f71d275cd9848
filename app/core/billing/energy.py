"""Energy used by local generation: measured where the machine can say, else estimated.

Measured: NVIDIA GPUs through NVML's total-energy counter (millijoules since
driver load, Volta and newer) and Linux CPUs through RAPL
(`/sys/class/powercap/*/energy_uj`, often readable by root only since
CVE-2020-8694). Both are counters, so a reading at the start of a request and
one at the end give the energy in between, whatever the sampling rate.
Estimated: the device wattage the user set, times the request's duration.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import ctypes
    from collections.abc import Sequence

logger = logging.getLogger(__name__)

RAPL_ROOT = Path("/sys/class/powercap")
# Default wattage per device class: what a busy device of that class draws.
DEFAULT_WATTS = {"nvidia": 300.0, "apple": 40.0, "cpu": 65.0}


class EnergyMeter(Protocol):
    """A monotonic energy counter; `read_j()` is None when it cannot be read."""

    name: str

    def read_j(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class EnergyReading:
    joules: tuple[float | None, ...]


@dataclass(frozen=True, slots=True)
class RaplZone:
    energy: Path
    max_range_uj: int


class RaplMeter:
    """Sum of the top-level RAPL package zones (sub-zones are already inside them)."""

    name = "rapl"

    def __init__(self, root: Path = RAPL_ROOT) -> None:
        self.zones: list[RaplZone] = []
        try:
            candidates = sorted(root.glob("intel-rapl:*")) + sorted(root.glob("amd-rapl:*"))
        except OSError:
            candidates = []
        for zone in candidates:
            if zone.name.count(":") != 1:  # sub-zone (core, dram): counted in its package
                continue
            energy = zone / "energy_uj"
            try:
                int(energy.read_text())
                max_range = int((zone / "max_energy_range_uj").read_text())
            except (OSError, ValueError):
                continue
            self.zones.append(RaplZone(energy, max_range))

    def read_j(self) -> float | None:
        if not self.zones:
            return None
        try:
            return sum(int(z.energy.read_text()) for z in self.zones) / 1e6
        except (OSError, ValueError):
            return None

    def wrap_j(self) -> float:
        return sum(z.max_range_uj for z in self.zones) / 1e6


class NvmlMeter:
    """NVML total energy over all NVIDIA GPUs, through ctypes (no extra dependency)."""

    name = "nvml"

    def __init__(self) -> None:
        import ctypes  # only when energy is first measured, not at start-up

        self._lib: ctypes.CDLL | None = None
        self._handles: list[ctypes.c_void_p] = []
        try:
            lib = ctypes.CDLL("libnvidia-ml.so.1" if sys.platform != "win32" else "nvml.dll")
        except OSError:
            return
        try:
            if lib.nvmlInit_v2() != 0:
                return
            count = ctypes.c_uint(0)
            if lib.nvmlDeviceGetCount_v2(ctypes.byref(count)) != 0:
                return
            for i in range(count.value):
                handle = ctypes.c_void_p()
                if lib.nvmlDeviceGetHandleByIndex_v2(i, ctypes.byref(handle)) == 0:
                    self._handles.append(handle)
        except AttributeError:  # a very old driver without these symbols
            return
        self._lib = lib
        if self.read_j() is None:  # pre-Volta GPUs have no energy counter
            self._lib = None

    def read_j(self) -> float | None:
        if self._lib is None or not self._handles:
            return None
        import ctypes

        total = 0
        for handle in self._handles:
            mj = ctypes.c_ulonglong(0)
            if self._lib.nvmlDeviceGetTotalEnergyConsumption(handle, ctypes.byref(mj)) != 0:
                return None
            total += mj.value
        return total / 1000.0


class EnergyMonitor:
    """Reads every available meter at the start and the end of a request."""

    def __init__(self, meters: Sequence[EnergyMeter] | None = None) -> None:
        self._meters: Sequence[EnergyMeter] | None = meters

    @property
    def meters(self) -> Sequence[EnergyMeter]:
        if self._meters is None:  # probing NVML costs a few ms: only on first local use
            found: list[EnergyMeter] = []
            for meter in (NvmlMeter(), RaplMeter()):
                if meter.read_j() is not None:
                    found.append(meter)
            logger.info("energy meters: %s", [m.name for m in found] or "none (estimating)")
            self._meters = found
        return self._meters

    def start(self) -> EnergyReading:
        return EnergyReading(tuple(m.read_j() for m in self.meters))

    def measured_wh(self, start: EnergyReading) -> float | None:
        """Watt-hours since `start`, or None when no meter could measure the whole span."""
        end = self.start()
        if not end.joules or len(end.joules) != len(start.joules):
            return None
        total = 0.0
        for meter, before, after in zip(self.meters, start.joules, end.joules, strict=True):
            if before is None or after is None:
                return None
            delta = after - before
            if delta < 0 and isinstance(meter, RaplMeter):
                delta += meter.wrap_j()  # the counter wrapped during the request
            if delta < 0:
                return None
            total += delta
        return total / 3600.0


def device_class() -> str:
    """A cheap guess used only for the default wattage."""
    import platform

    if sys.platform == "darwin" and platform.machine() == "arm64":
        return "apple"
    if os.path.exists("/dev/nvidiactl") or os.path.exists("/proc/driver/nvidia/version"):
        return "nvidia"
    return "cpu"


def estimated_wh(watts: float, duration_s: float) -> float:
    return max(0.0, watts) * max(0.0, duration_s) / 3600.0
