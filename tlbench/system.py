"""What a result records about where it was produced: library versions and the device."""

from __future__ import annotations

import platform
import subprocess
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
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


#: the folder of tlbench's source tree (the package's parent)
SOURCE_ROOT = Path(__file__).resolve().parents[1]


def versions() -> dict[str, str]:
    """Python's and each library's installed version (``"not installed"`` when missing), and
    the git revision of tlbench's source (``tlbench-source``, see :func:`source_revision`)."""
    return {**library_versions(LIBRARIES), "tlbench-source": source_revision()}


def source_revision(root: Path = SOURCE_ROOT) -> str:
    """The git commit of the source tree at ``root`` (12 hex digits), with ``+modified`` when
    tracked files differ from it: the agent's code digest covers the agent's own files, this
    covers the runner, the metrics and the adapters (``tlbench.agents.sb3``) they use.
    ``"unknown (...)"`` outside a git checkout (an installed wheel) or without git.
    """

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30
        )

    try:
        found = git("rev-parse", "--show-toplevel", "--verify", "HEAD")
        lines = found.stdout.splitlines()
        # (an installed copy inside some other repository, e.g. a venv in a checkout, is not it)
        if found.returncode or len(lines) != 2 or Path(lines[0]).resolve() != root.resolve():
            return "unknown (not a git checkout)"
        changed = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown (git not available)"
    return lines[1][:12] + ("+modified" if changed else "")


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


def mixed_provenance(
    runs: Iterable[Any], versions: dict[str, str], device: dict[str, Any]
) -> list[str]:
    """Where an evaluation's runs were made with other versions or on another device than the
    evaluation records (``versions``, ``device``: what the command that wrote the results ran
    with). A resumed evaluation combines runs made by earlier commands, perhaps with other code.

    ``runs`` are run entries (dicts or objects) with their own ``versions`` and ``device``;
    runs without them (results written before runs carried them) are not compared. Returns one
    line per differing field, naming each value and how many runs had it (most first); empty
    when every run matches.

    >>> here = {"numpy": "2.4.6"}
    >>> dev = {"device": "cpu", "cpu": "EPYC"}
    >>> runs = [{"versions": here, "device": dev}] * 2
    >>> mixed_provenance(runs, here, dev)
    []
    >>> runs.append({"versions": {"numpy": "2.3.0"}, "device": dev})
    >>> mixed_provenance(runs, here, dev)
    ['numpy: 2.4.6 in 2 runs, 2.3.0 in 1 run (the results record 2.4.6)']
    """

    def field(run: Any, name: str) -> dict[str, Any] | None:
        value = run.get(name) if isinstance(run, dict) else getattr(run, name, None)
        if value is None or isinstance(value, dict):
            return value
        return dict(value.model_dump())  # a pydantic model (leaderboard entries)

    lines = []
    for name, recorded in (("versions", versions), ("device", device)):
        stamps = [s for s in (field(run, name) for run in runs) if s is not None]
        for key in sorted({k for s in stamps for k in s} | set(recorded)):
            counts: dict[str, int] = {}
            for stamp in stamps:
                value = stamp.get(key)
                text = "not recorded" if value is None else str(value)
                counts[text] = counts.get(text, 0) + 1
            expected = "not recorded" if recorded.get(key) is None else str(recorded[key])
            if not counts or set(counts) == {expected}:
                continue
            where = ", ".join(
                f"{value} in {n} run{'s' if n != 1 else ''}"
                for value, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
            )
            lines.append(f"{key}: {where} (the results record {expected})")
    return lines
