"""benchmarks/bullet.py runs end to end at tiny sizes, so that it cannot rot unnoticed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pybullet as p
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bullet.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("benchmarks_bullet", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_bullet_benchmark_runs_at_tiny_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    bench = load_script()
    real_step = p.stepSimulation
    assert bench.main(["--steps", "30", "--pixel-steps", "5", "--repeats", "1"]) == 0
    assert p.stepSimulation is real_step  # the physics timer is removed again
    out = capsys.readouterr().out
    table, targets = out.split("\ntargets", 1)
    for env_id in ("tlbench/Hopper-v0", "tlbench/InvertedDoublePendulumSwingup-v0"):
        (row,) = [line for line in table.splitlines() if line.startswith(env_id + " ")]
        assert row.count(" us") == 2  # the overhead of each mode over the physics
    assert targets.count("[PASS]") + targets.count("[FAIL]") == 4
    assert "tlbench/HalfCheetah-v0 pixels >= HalfCheetahBulletEnv-v0 605 steps/s" in targets
