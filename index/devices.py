"""Which devices the model can run on here, and checking the one asked for before anything is loaded.

torch is imported only when a GPU could be there (an NVIDIA driver is loaded, or the machine is a Mac) or when
one is asked for, so the CPU path starts fast.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

from index.errors import DeviceUnavailable

__all__ = ["available_devices", "cuda_present", "resolve_device"]

_DEVICE = re.compile(r"cpu|auto|mps|cuda(:\d+)?")


def cuda_present() -> bool:
    """An NVIDIA driver is loaded; checked without importing torch."""
    return Path("/proc/driver/nvidia/version").exists() or shutil.which("nvidia-smi") is not None


def available_devices(*, probe: bool | None = None) -> list[str]:
    """The devices torch can use on this machine: "cpu" always, then "cuda:0", "cuda:1", ... and "mps".

    `probe` False answers ["cpu"] without importing torch; None imports it only where a GPU may be.
    """
    if probe is None:
        probe = cuda_present() or sys.platform == "darwin"
    devices = ["cpu"]
    if not probe:
        return devices
    import torch

    if torch.cuda.is_available():
        devices.extend(f"cuda:{number}" for number in range(torch.cuda.device_count()))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    return devices


def resolve_device(device: str) -> str:
    """`device` checked against this machine: "auto" becomes the first GPU torch can use, else "cpu".

    Raises DeviceUnavailable, naming the devices that are here, for a device this machine (or this build of
    torch) does not have, and for a name that is no device at all.
    """
    name = device.strip().lower()
    if not _DEVICE.fullmatch(name):
        raise DeviceUnavailable(
            f"{device!r} is not a device; use auto, cpu, cuda, cuda:N or mps (here: {', '.join(available_devices())})"
        )
    if name == "cpu":
        return name
    if name == "auto":
        gpus = [found for found in available_devices() if found != "cpu"]
        return "cuda" if gpus and gpus[0].startswith("cuda") else (gpus[0] if gpus else "cpu")
    here = available_devices(probe=True)
    wanted = "cuda:0" if name == "cuda" else name
    if wanted not in here:
        raise DeviceUnavailable(
            f"the device {device!r} is not on this machine{_why_not(name)}; use one of: {', '.join(here)}"
        )
    return name


def _why_not(name: str) -> str:
    if not name.startswith("cuda"):
        return ""
    import torch

    if torch.version.cuda is None:
        return f" (this torch, {torch.__version__}, is built without CUDA)"
    if not torch.cuda.is_available():
        return " (no CUDA GPU or driver found)"
    return f" (it has {torch.cuda.device_count()} CUDA GPU(s))"
