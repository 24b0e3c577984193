"""CRAREnsemble (baselines/crar/ensemble.py): E agents trained at once match E agents trained
one by one, same seeds and minibatches, in the source phase and in the frozen transfer modes,
target-net refreshes included.

The comparisons run in float64: in float32 the rounding differences of a batched matmul grow
through training to about 1e-2 after 200 updates for some seeds, which says nothing about the
code; in float64 they grow from about 1e-15 after one update to about 1e-12 after 100 updates
and 1e-8 after 300 (``tolerance``), far below the size of one update step (RMSprop moves a weight
by the order of the learning rate, 5e-4, per step). A short float32 run through the agent's
public API checks the real dtype.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

import tlbench  # noqa: F401
from baselines.crar import CRAR, ReplayBuffer
from baselines.crar.ensemble import CRAREnsemble, collect
from tlbench.agents import AgentContext

NON_ENCODER = ("transition", "reward", "discount", "q")
#: 2 epochs with a target refresh every 30 updates: refreshes inside and across epochs
SCHEDULE: dict[str, Any] = {"epochs": 2, "target_update_interval": 30, "verbose": False}
#: updates per epoch: a fast run, and a few hundred updates in all behind the slow marker
LENGTHS = [40, pytest.param(150, marks=pytest.mark.slow)]


def tolerance(length: int) -> float:
    """The float64 tolerance after 2 epochs of ``length`` updates (see the module docstring)."""
    return 1e-9 if length <= 40 else 1e-6


pytestmark = pytest.mark.usefixtures("one_thread")


def make_agent(tmp_path: Path, seed: int, env_id: str = "tlbench/Maze-v0", **kwargs: Any) -> CRAR:
    env = gym.make(env_id)
    spaces = (env.observation_space, env.action_space)
    work = tmp_path / f"work{seed}"
    work.mkdir(parents=True, exist_ok=True)
    context = AgentContext(*spaces, (spaces,), spaces, seed, "cpu", work, "target", 100, 100)
    return CRAR(context, **kwargs)


def to_double(agent: CRAR, buffer: ReplayBuffer) -> None:
    """The agent's networks and the buffer's contents in float64."""
    for module in (agent.nets, agent.target_encoder, agent.target_q):
        module.double()
    chunks = []
    for i, chunk in enumerate(buffer._chunks):  # the frames stored; the rest is uninitialised
        double = np.zeros(chunk.shape, np.float64)
        n = min(len(chunk), buffer.n_frames - i * len(chunk))
        double[:n] = chunk[:n]
        chunks.append(double)
    buffer._chunks = chunks
    buffer._rewards = buffer._rewards.astype(np.float64)
    buffer._terminals = buffer._terminals.astype(np.float64)


def max_difference(a: torch.nn.Module, b: torch.nn.Module) -> float:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    return max(float((sa[k] - sb[k]).abs().max()) for k in sa)


def agents_and_buffers(
    tmp_path: Path,
    seeds: list[int],
    env_id: str = "tlbench/Maze-v0",
    base: Path | None = None,
    steps: int = 300,
    updates_per_epoch: int = 40,
    **kwargs: Any,
) -> tuple[list[CRAR], list[ReplayBuffer]]:
    """Agents of ``seeds`` (loaded from ``base`` if given) and their random buffers, float64."""
    agents, buffers = [], []
    env = gym.make(env_id)
    for seed in seeds:
        agent = make_agent(
            tmp_path, seed, env_id, updates_per_epoch=updates_per_epoch, **SCHEDULE, **kwargs
        )
        if base is not None:
            agent.load(base)
        buffer = collect(agent, env, steps, seed=1000 + seed)
        to_double(agent, buffer)
        agents.append(agent)
        buffers.append(buffer)
    return agents, buffers


@pytest.mark.parametrize("length", LENGTHS)
def test_source_phase_matches_separate_agents(tmp_path: Path, length: int) -> None:
    seeds = [0, 1, 2]
    separate, buffers = agents_and_buffers(tmp_path / "a", seeds, updates_per_epoch=length)
    for agent, buffer in zip(separate, buffers, strict=True):
        agent._learn_offline(buffer, agent.source_phase())
    together, buffers = agents_and_buffers(tmp_path / "b", seeds, updates_per_epoch=length)
    ensemble = CRAREnsemble(together)
    ensemble.learn_offline(buffers, together[0].source_phase())
    ensemble.write_back()
    for a, b in zip(separate, together, strict=True):
        assert b.updates == a.updates == 2 * length
        assert max_difference(a.nets, b.nets) < tolerance(length)
        assert max_difference(a.target_encoder, b.target_encoder) < tolerance(length)
        assert max_difference(a.target_q, b.target_q) < tolerance(length)
        # the epochs' mean losses as the agent records them
        assert len(b.history) == len(a.history) == 2
        for ha, hb in zip(a.history, b.history, strict=True):
            assert ha.keys() == hb.keys()
            assert all(abs(ha[k] - hb[k]) < tolerance(length) for k in ha)
    # the models did train, and differently
    assert max_difference(together[0].nets, together[1].nets) > 0.01


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("mode", ["freeze", "no-ld1", "delayed-structure"])
def test_frozen_transfer_matches_separate_agents(tmp_path: Path, mode: str, length: int) -> None:
    base = tmp_path / "base"
    base.mkdir()
    make_agent(tmp_path, 7, verbose=False).save(base)
    seeds = [3, 4]
    kwargs: dict[str, Any] = {
        "mode": mode,
        "structure_delay_epochs": 1,
        "updates_per_epoch": length,
    }
    env_id = "tlbench/InverseMaze-v0"
    separate, buffers = agents_and_buffers(tmp_path / "a", seeds, env_id, base, **kwargs)
    heads = {name: getattr(separate[0].nets, name).state_dict() for name in NON_ENCODER}
    heads = {name: {k: v.clone() for k, v in sd.items()} for name, sd in heads.items()}
    for agent, buffer in zip(separate, buffers, strict=True):
        phase = agent.target_phase()
        assert phase.trainable == ("encoder",) and phase.lr == agent.config.transfer_lr
        agent._learn_offline(buffer, phase)
    together, buffers = agents_and_buffers(tmp_path / "b", seeds, env_id, base, **kwargs)
    ensemble = CRAREnsemble(together)
    ensemble.learn_offline(buffers, together[0].target_phase())
    ensemble.write_back()
    for a, b in zip(separate, together, strict=True):
        assert max_difference(a.nets, b.nets) < tolerance(length)
        assert max_difference(a.target_encoder, b.target_encoder) < tolerance(length)
        for name, state in heads.items():  # only the encoder trained
            module = getattr(b.nets, name)
            assert all(torch.equal(module.state_dict()[k], v) for k, v in state.items())
    assert max_difference(together[0].nets.encoder, together[1].nets.encoder) > 1e-3


def test_float32_matches_the_agents_public_api(tmp_path: Path) -> None:
    """train_source / load / train_target of two agents against the ensemble, in float32."""
    env_ids = ("tlbench/Maze-v0", "tlbench/InverseMaze-v0")
    short = {**SCHEDULE, "epochs": 1, "updates_per_epoch": 30, "target_update_interval": 15}
    base_dir = tmp_path / "base"
    base_dir.mkdir()
    base = make_agent(tmp_path, 0, **short)
    env = gym.make(env_ids[0])
    env.reset(seed=5)
    base.train_source([env], 200)
    base.save(base_dir)
    for phase_index, env_id in enumerate(env_ids):
        separate = [make_agent(tmp_path / "a", s, env_id, **short) for s in (1, 2)]
        together = [make_agent(tmp_path / "b", s, env_id, **short) for s in (1, 2)]
        buffers = []
        for a, b in zip(separate, together, strict=True):
            env = gym.make(env_id)
            if phase_index:
                a.load(base_dir)
                b.load(base_dir)
            env.reset(seed=a.seed)
            if phase_index:
                a.train_target(env, 200)
            else:
                a.train_source([env], 200)
            buffers.append(collect(b, gym.make(env_id), 200, seed=b.seed))
        ensemble = CRAREnsemble(together)
        phase = together[0].target_phase() if phase_index else together[0].source_phase()
        ensemble.learn_offline(buffers, phase)
        ensemble.write_back()
        for a, b in zip(separate, together, strict=True):
            assert max_difference(a.nets, b.nets) < 1e-4


def test_rejects_conv_and_mixed_configs(tmp_path: Path) -> None:
    conv = make_agent(tmp_path, 0, "tlbench/MetaLabyrinth-v0", verbose=False)
    with pytest.raises(ValueError, match="dense architecture only"):
        CRAREnsemble([conv])
    with pytest.raises(ValueError, match="same config"):
        CRAREnsemble([make_agent(tmp_path, 0, lr=1e-3), make_agent(tmp_path, 1)])
    agents = [make_agent(tmp_path, s, verbose=False) for s in (0, 1)]
    env = gym.make("tlbench/Maze-v0")
    buffers = [collect(agents[0], env, 50, seed=0), collect(agents[1], env, 60, seed=1)]
    with pytest.raises(ValueError, match="same length"):
        CRAREnsemble(agents).learn_offline(buffers, agents[0].source_phase())


@pytest.mark.slow
def test_maze_study_and_benchmark_scripts_run(tmp_path: Path) -> None:
    """scripts/crar_maze_study.py and benchmarks/crar.py end to end at tiny sizes."""
    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "study"
    study = [sys.executable, str(root / "scripts" / "crar_maze_study.py"), "--out", str(out)]
    tiny = ["--base-models", "2", "--transfers", "2", "--steps", "100", "--base-epochs", "1"]
    tiny += ["--transfer-epochs", "1", "--updates-per-epoch", "5", "--workers", "1"]
    subprocess.run([*study, *tiny], check=True, capture_output=True, cwd=root)
    subprocess.run([*study, "--analyse-only"], check=True, capture_output=True, cwd=root)
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert len(results["transfers"]) == 4 and results["bases"][0]["determinism_checked"]
    assert sum(map(sum, results["analysis"]["table"]["successes_failures"])) == 4
    split = results["analysis"]["split"]  # None only if the 4 ratios are all equal
    assert split is None or split["low_count"] + split["high_count"] == 4
    assert all((out / f"embeddings_base_{b}.png").exists() for b in (0, 1))
    bench = [sys.executable, str(root / "benchmarks" / "crar.py"), "--updates", "2"]
    bench += ["--conv-updates", "1", "--repeats", "1", "--ensemble-sizes", "1,2"]
    bench += ["--study-transfers", "1"]
    done = subprocess.run(bench, check=True, capture_output=True, text=True, cwd=root)
    assert "ensemble E=2, frozen" in done.stdout and "paper (50 + 50 epochs)" in done.stdout
