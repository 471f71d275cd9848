"""Vulkan devices and their memory, asked of the system's Vulkan loader.

We wrote this ourselves, on purpose: it takes five loader calls, and the Python
Vulkan bindings on PyPI (`vulkan`) are large cffi wrappers that lag the headers.
`vulkaninfo` (package vulkan-tools) is rarely installed on users' machines and its
summary leaves memory out. Structure layouts are the Vulkan specification's
(`VkPhysicalDeviceProperties`, `VkPhysicalDeviceMemoryProperties`,
`VkPhysicalDeviceMemoryBudgetPropertiesEXT`); only their leading, fixed-size fields
are read. No loader, no driver or any failure means "no Vulkan devices", never an error.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import struct
import sys
from dataclasses import dataclass

logger = logging.getLogger(__name__)

_VK_API_1_1 = (1 << 22) | (1 << 12)
_STYPE_APPLICATION_INFO = 0
_STYPE_INSTANCE_CREATE_INFO = 1
_STYPE_MEMORY_PROPERTIES_2 = 1000059006
_STYPE_MEMORY_BUDGET = 1000237000
_HEAP_DEVICE_LOCAL = 0x1
_MAX_HEAPS = 16
_HEAPS_OFFSET = 264  # memoryHeaps[] in VkPhysicalDeviceMemoryProperties (after 32 types)
_PROPERTIES_SIZE = 4096  # VkPhysicalDeviceProperties is 824 bytes on 64-bit; room to spare
_MEMORY_SIZE = 1024  # VkPhysicalDeviceMemoryProperties is 520 bytes

DEVICE_TYPES = {0: "other", 1: "integrated", 2: "discrete", 3: "virtual", 4: "cpu"}
VENDORS = {0x10DE: "nvidia", 0x1002: "amd", 0x8086: "intel", 0x13B5: "arm",
           0x5143: "qualcomm", 0x106B: "apple", 0x10005: "mesa"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class VulkanDevice:
    index: int  # the order the loader lists it (GGML_VK_VISIBLE_DEVICES counts in it)
    name: str
    type: str  # discrete | integrated | virtual | cpu | other
    vendor: str  # nvidia | amd | intel | mesa | ... or the PCI vendor id in hex
    api_version: str
    memory_total: int  # bytes of device-local heaps
    memory_free: int  # bytes; from VK_EXT_memory_budget when the driver has it, else the total


class _AppInfo(ctypes.Structure):
    _fields_ = [("sType", ctypes.c_int), ("pNext", ctypes.c_void_p),
                ("pApplicationName", ctypes.c_char_p), ("applicationVersion", ctypes.c_uint32),
                ("pEngineName", ctypes.c_char_p), ("engineVersion", ctypes.c_uint32),
                ("apiVersion", ctypes.c_uint32)]  # fmt: skip


class _InstanceInfo(ctypes.Structure):
    _fields_ = [("sType", ctypes.c_int), ("pNext", ctypes.c_void_p), ("flags", ctypes.c_uint32),
                ("pApplicationInfo", ctypes.POINTER(_AppInfo)),
                ("enabledLayerCount", ctypes.c_uint32), ("ppEnabledLayerNames", ctypes.c_void_p),
                ("enabledExtensionCount", ctypes.c_uint32),
                ("ppEnabledExtensionNames", ctypes.c_void_p)]  # fmt: skip


class _Budget(ctypes.Structure):
    _fields_ = [("sType", ctypes.c_int), ("pNext", ctypes.c_void_p),
                ("heapBudget", ctypes.c_uint64 * _MAX_HEAPS),
                ("heapUsage", ctypes.c_uint64 * _MAX_HEAPS)]  # fmt: skip


class _Memory2(ctypes.Structure):
    _fields_ = [("sType", ctypes.c_int), ("pNext", ctypes.c_void_p),
                ("memoryProperties", ctypes.c_uint8 * _MEMORY_SIZE)]  # fmt: skip


def _loader() -> ctypes.CDLL | None:
    names = {"win32": ["vulkan-1.dll"], "darwin": ["libvulkan.1.dylib", "libMoltenVK.dylib"]}
    candidates = names.get(sys.platform, ["libvulkan.so.1"])
    found = ctypes.util.find_library("vulkan")
    for name in [*candidates, *([found] if found else [])]:
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    return None


def vulkan_devices() -> list[VulkanDevice]:
    """Every Vulkan device the loader lists, with its device-local memory; [] if none."""
    lib = _loader()
    if lib is None:
        return []
    try:
        return _enumerate(lib)
    except (OSError, AttributeError, ValueError, struct.error) as exc:
        logger.info("Vulkan: %s", exc)
        return []


def _enumerate(lib: ctypes.CDLL) -> list[VulkanDevice]:
    app = _AppInfo(_STYPE_APPLICATION_INFO, None, b"Parley", 1, b"Parley", 1, _VK_API_1_1)
    info = _InstanceInfo(_STYPE_INSTANCE_CREATE_INFO, None, 0, ctypes.pointer(app), 0, None, 0,
                         None)  # fmt: skip
    instance = ctypes.c_void_p()
    if lib.vkCreateInstance(ctypes.byref(info), None, ctypes.byref(instance)) != 0:
        return []
    lib.vkDestroyInstance.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    try:
        count = ctypes.c_uint32(0)
        lib.vkEnumeratePhysicalDevices(instance, ctypes.byref(count), None)
        handles = (ctypes.c_void_p * count.value)()
        if count.value and lib.vkEnumeratePhysicalDevices(instance, ctypes.byref(count), handles):
            return []
        return [_describe(lib, i, ctypes.c_void_p(h)) for i, h in enumerate(handles[: count.value])]
    finally:
        lib.vkDestroyInstance(instance, None)


def _describe(lib: ctypes.CDLL, index: int, device: ctypes.c_void_p) -> VulkanDevice:
    props = ctypes.create_string_buffer(_PROPERTIES_SIZE)
    lib.vkGetPhysicalDeviceProperties(device, props)
    api, _driver, vendor_id, _device_id, kind = struct.unpack_from("<5I", props.raw, 0)
    name = props.raw[20:276].split(b"\0", 1)[0].decode("utf-8", "replace")
    budget = _Budget(_STYPE_MEMORY_BUDGET, None)
    memory = _Memory2(_STYPE_MEMORY_PROPERTIES_2, None)
    with_budget = api >= _VK_API_1_1 and _has_extension(lib, device, b"VK_EXT_memory_budget")
    if with_budget:
        memory.pNext = ctypes.cast(ctypes.pointer(budget), ctypes.c_void_p)
        lib.vkGetPhysicalDeviceMemoryProperties2(device, ctypes.byref(memory))
        raw = bytes(memory.memoryProperties)
    else:
        plain = ctypes.create_string_buffer(_MEMORY_SIZE)
        lib.vkGetPhysicalDeviceMemoryProperties(device, plain)
        raw = plain.raw
    heaps = min(_MAX_HEAPS, struct.unpack_from("<I", raw, _HEAPS_OFFSET - 4)[0])
    total = free = 0
    for h in range(heaps):
        size, flags = struct.unpack_from("<QI", raw, _HEAPS_OFFSET + 16 * h)
        if flags & _HEAP_DEVICE_LOCAL:
            total += size
            free += (max(0, budget.heapBudget[h] - budget.heapUsage[h]) if with_budget
                     else size)  # fmt: skip
    version = f"{api >> 22}.{(api >> 12) & 0x3FF}.{api & 0xFFF}"
    return VulkanDevice(index, name, DEVICE_TYPES.get(kind, "other"),
                        VENDORS.get(vendor_id, hex(vendor_id)), version, total, free)  # fmt: skip


def _has_extension(lib: ctypes.CDLL, device: ctypes.c_void_p, name: bytes) -> bool:
    count = ctypes.c_uint32(0)
    lib.vkEnumerateDeviceExtensionProperties(device, None, ctypes.byref(count), None)
    size = 260  # VkExtensionProperties: char extensionName[256]; uint32_t specVersion
    buf = ctypes.create_string_buffer(size * count.value)
    if lib.vkEnumerateDeviceExtensionProperties(device, None, ctypes.byref(count), buf):
        return False
    return any(buf.raw[i * size : i * size + 256].split(b"\0", 1)[0] == name
               for i in range(count.value))  # fmt: skip
