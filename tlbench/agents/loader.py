"""Loading an agent class from ``path/to/agent.py[:ClassName]`` (or a folder)."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tlbench.agents.api import Agent
from tlbench.envs import suggest


class AgentLoadError(ValueError):
    """The agent spec names no loadable agent class; the message says what to fix."""


@dataclass(frozen=True)
class AgentRef:
    """Where an agent class comes from, and how it is configured.

    Attributes:
        path: the agent file, or a folder (a package whose ``__init__.py`` defines the class).
        class_name: the class; ``None`` picks the only :class:`Agent` subclass the file defines.
        kwargs: keyword arguments for the agent's constructor.
    """

    path: Path
    class_name: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, spec: str, kwargs: dict[str, Any] | None = None) -> AgentRef:
        """``"path/to/agent.py:MyAgent"`` or ``"path/to/agent.py"`` or ``"path/to/folder"``."""
        path, sep, name = spec.rpartition(":")
        if not sep or not name.isidentifier():
            path, name = spec, ""
        ref = cls(Path(path), name or None, dict(kwargs or {}))
        if not ref.path.exists():
            raise AgentLoadError(
                f"agent file {str(ref.path)!r} does not exist; pass path/to/agent.py[:ClassName]"
            )
        return ref

    def source_files(self) -> list[Path]:
        """The files the agent's code digest covers (the file, or every .py of the folder)."""
        if self.path.is_dir():
            return sorted(p for p in self.path.rglob("*.py") if "__pycache__" not in p.parts)
        return [self.path]

    def digest(self) -> str:
        """SHA-256 (hex, first 16 chars) of the agent's source files and class name."""
        h = hashlib.sha256(str(self.class_name).encode())
        root = self.path if self.path.is_dir() else self.path.parent
        for file in self.source_files():
            h.update(file.relative_to(root).as_posix().encode() + b"\0" + file.read_bytes())
        return h.hexdigest()[:16]

    def load_class(self) -> type[Agent]:
        """Import the file and return the agent class."""
        module = _import_file(self.path)
        agents = {
            name: obj
            for name, obj in vars(module).items()
            if inspect.isclass(obj) and issubclass(obj, Agent) and not inspect.isabstract(obj)
        }
        # The classes defined in the file (or the package's __init__); a package whose
        # __init__ defines none offers those of its own modules (baselines/ppo/agent.py).
        candidates = {n: c for n, c in agents.items() if c.__module__ == module.__name__} or {
            n: c for n, c in agents.items() if c.__module__.startswith(module.__name__ + ".")
        }
        if self.class_name is not None:
            obj = getattr(module, self.class_name, None)
            if obj is None:
                raise AgentLoadError(
                    f"{self.path} defines no class {self.class_name!r}"
                    f"{suggest(self.class_name, sorted(candidates))}"
                )
            if not (inspect.isclass(obj) and issubclass(obj, Agent)):
                raise AgentLoadError(
                    f"{self.path}:{self.class_name} is not a subclass of tlbench.agents.Agent"
                )
            return obj
        if len(candidates) == 1:
            return next(iter(candidates.values()))
        if not candidates:
            raise AgentLoadError(
                f"{self.path} defines no subclass of tlbench.agents.Agent; see docs/agent-api.md"
            )
        raise AgentLoadError(
            f"{self.path} defines several agents {sorted(candidates)}; pick one with "
            f"{self.path}:ClassName"
        )


def _import_file(path: Path) -> Any:
    path = path.resolve()
    init = path / "__init__.py" if path.is_dir() else path
    if not init.is_file() or init.suffix != ".py":
        raise AgentLoadError(f"{path} is not a Python file or a package folder with __init__.py")
    name = "tlbench_agent_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, init, submodule_search_locations=[str(path)] if path.is_dir() else None
    )
    if spec is None or spec.loader is None:
        raise AgentLoadError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception:
        del sys.modules[name]
        raise
    return module


def parse_kwargs(items: list[str]) -> dict[str, Any]:
    """``["lr=0.001", "net=[64, 64]"]`` -> ``{"lr": 0.001, "net": [64, 64]}`` (values as YAML).

    >>> parse_kwargs(["learning_rate=5e-4", "policy=MlpPolicy", "double=true"])
    {'learning_rate': 0.0005, 'policy': 'MlpPolicy', 'double': True}
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise AgentLoadError(f"agent keyword argument {item!r} is not name=value")
        parsed = yaml.safe_load(value) if value.strip() else ""
        if isinstance(parsed, str) and _looks_numeric(parsed):
            parsed = float(parsed)  # YAML 1.1 reads "5e-4" as a string
        out[key.strip()] = parsed
    return out


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
