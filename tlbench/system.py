"""What a result records about where it was produced: library versions and the device."""

from __future__ import annotations

import platform
from collections.abc import Iterable
from importlib import metadata
from typing import Any

LIBRARIES = (
    "tlbench",
    "gymnasium",
    "numpy",
    "torch",
    "stable-baselines3",
    "pydantic",
    "rliable",
    "pybullet",
    "scipy",
    "pandas",
)


def versions() -> dict[str, str]:
    """Python's and each library's installed version (``"not installed"`` when missing)."""
    return library_versions(LIBRARIES)


def library_versions(names: Iterable[str]) -> dict[str, str]:
    """Python's version and each named distribution's (``"not installed"`` when missing)."""
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux, else ``platform.processor()``)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def resolve_device(requested: str) -> str:
    """``auto``: ``cuda`` when torch sees a GPU, else ``cpu``; ``cuda`` without a GPU: an error."""
    if requested not in ("auto", "cpu") and not requested.startswith("cuda"):
        raise ValueError(f"unknown device {requested!r}; use auto, cpu or cuda (cuda:N)")
    if requested == "cpu":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda" if requested == "auto" else requested
    if requested == "auto":
        return "cpu"
    raise ValueError(
        f"--device {requested} asked for, but torch sees no CUDA GPU; use --device cpu"
    )


def device_info(device: str) -> dict[str, Any]:
    """The device a run used: its name, the CPU, the core count and the platform."""
    import os

    info: dict[str, Any] = {
        "device": device,
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
    }
    if device.startswith("cuda"):
        import torch

        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info
