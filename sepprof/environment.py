"""Where a result was measured: versions, CPU, GPU, threads (recorded in every result), and the
memory free on a device (checked before anything large is allocated).

Versions are read from package metadata, so describing the environment never imports torch;
GPU details are added only when torch is already loaded.
"""

from __future__ import annotations

import os
import platform
import socket
import sys
from functools import cache
from importlib import metadata
from typing import Any

from sepprof.errors import UserError
from sepprof.units import human


@cache
def version(package: str) -> str | None:
    """An installed package's version (None: not installed), read once per process (reading
    package metadata took a measurable part of counting a small model)."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


@cache
def cpu_model() -> str:
    """The CPU's marketing name (from /proc/cpuinfo on Linux)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(**extra: Any) -> dict[str, Any]:
    """The environment block of a result; ``extra`` adds device, dtype, threads and the like."""
    env: dict[str, Any] = {
        "sepprof": version("sepprof") or "dev",
        "python": platform.python_version(),
        "torch": version("torch"),
        "fvcore": version("fvcore"),
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "cpu": cpu_model(),
    }
    torch = sys.modules.get("torch")
    if torch is not None:
        env["cuda"] = torch.version.cuda
        if torch.cuda.is_available():
            env["gpu"] = torch.cuda.get_device_name(0)
    env.update({k: v for k, v in extra.items() if v is not None})
    return env


def free_bytes(device: str) -> int:
    """Memory available now on ``device`` (MemAvailable on Linux CPUs)."""
    if device == "cuda":
        import torch

        return torch.cuda.mem_get_info()[0]
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    if sys.platform != "win32" and hasattr(os, "sysconf"):
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return 1 << 62


def check_memory(
    what: str, needed: int, device: str, hint: str = "use a smaller --batch or --size"
) -> None:
    """Refuse to allocate more than half of the memory free on ``device``."""
    free = free_bytes(device)
    if needed > free // 2:
        raise UserError(
            f"{what} needs about {human(needed)}B on {device} but only {human(free)}B are free; "
            f"refusing to allocate more than half of free memory ({hint})"
        )
