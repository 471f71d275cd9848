"""Energy used by local generation: measured where the machine can say, else estimated.

Measured: NVIDIA GPUs through NVML's total-energy counter (millijoules since
driver load, Volta and newer; `nvidia-ml-py`, as the hardware probe uses it) and
Linux CPUs through RAPL (`/sys/class/powercap/*/energy_uj`, often readable by root
only since CVE-2020-8694). Both are counters, so a reading at the start of a request and
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
    """NVML total energy over all NVIDIA GPUs (`app.core.foundation.nvml`)."""

    name = "nvml"

    def __init__(self) -> None:
        from app.core.foundation.nvml import NvmlEnergyCounter  # only when first measured

        self._counter = NvmlEnergyCounter()

    def read_j(self) -> float | None:
        return self._counter.read_j()


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
