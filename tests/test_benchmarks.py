"""The benchmark script runs end to end at tiny sizes, so that it cannot rot unnoticed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "envs.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("benchmarks_envs", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_benchmark_script_runs_at_tiny_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    bench = load_script()
    argv = ["--steps", "200", "--vector-steps", "3", "--num-envs", "8", "--repeats", "1"]
    assert bench.main(argv) == 0
    out = capsys.readouterr().out
    for expected in ("tlbench/Maze-v0", "tlbench/InverseMetaLabyrinth-v0", "FrozenLake-v1"):
        assert expected in out
    targets = out.split("\ntargets\n", 1)[1]
    assert "single >= 1.0x FrozenLake-v1" in targets
    # the vector targets are defined at N=4096; a smaller run says so instead of judging
    assert targets.count("[SKIP]") >= 2


def test_options_below_one_are_refused_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from tlbench.timing import require_positive

    parser = argparse.ArgumentParser(prog="bench")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--num-envs", type=int, default=4)
    require_positive(parser, parser.parse_args([]), "repeats", "num_envs")  # fine: nothing raised
    with pytest.raises(SystemExit) as exit_info:
        require_positive(parser, parser.parse_args(["--num-envs", "0"]), "repeats", "num_envs")
    assert exit_info.value.code == 2
    assert "bench: error: --num-envs must be at least 1" in capsys.readouterr().err


PPO_SCRIPT = SCRIPT.parent / "ppo.py"


@pytest.mark.usefixtures("one_thread")  # main() sets torch's thread count; restored after
def test_ppo_benchmark_runs_at_tiny_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("benchmarks_ppo", PPO_SCRIPT)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench
    spec.loader.exec_module(bench)
    argv = ["--steps", "512", "--sb3-steps", "256", "--num-envs", "4", "--n-steps", "32"]
    assert bench.main([*argv, "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "ours (baselines/ppo" in out and "SB3 PPO" in out
    assert "ratio ours / SB3 (per CPU-second)" in out and "target: ours >= 5x SB3" in out
