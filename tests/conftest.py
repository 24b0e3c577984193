"""Fixtures shared by the test modules."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def tasks_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, str]], Path]:
    """``tasks_with({"test/tiny": yaml_text, ...})``: a tasks folder in ``tmp_path`` holding the
    shipped scenarios plus these, made the one tlbench reads (``TLBENCH_TASKS_DIR``)."""

    def make(extra: dict[str, str]) -> Path:
        tasks = tmp_path / "tasks"
        for path in (ROOT / "tasks").rglob("*.yaml"):
            dest = tasks / path.relative_to(ROOT / "tasks")
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(path.read_text())
        for sid, text in extra.items():
            dest = tasks / f"{sid}.yaml"
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(text)
        monkeypatch.setenv("TLBENCH_TASKS_DIR", str(tasks))
        return tasks

    return make


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Tests share a small machine: torch on one thread (and a deterministic op order).

    Modules that train networks use it for every test with
    ``pytestmark = pytest.mark.usefixtures("one_thread")``.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def evaluate_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``evaluate_cli(agent, scenario, out, *kwargs, timeout=900)``: the finished process of
    ``tlbench evaluate AGENT --scenario SCENARIO --tier smoke --out OUT --no-plot -k KWARG ...``,
    run through the installed console script from the repository root, output captured."""

    def run(
        agent: str, scenario: str, out: Path, *kwargs: str, timeout: float = 900
    ) -> subprocess.CompletedProcess[str]:
        command = [
            str(Path(sys.executable).with_name("tlbench")),
            "evaluate",
            agent,
            "--scenario",
            scenario,
            "--tier",
            "smoke",
            "--out",
            str(out),
            "--no-plot",
        ]
        for kwarg in kwargs:
            command += ["-k", kwarg]
        return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=timeout)

    return run
