"""Embedding alignment: the metric by hand, the probe states, the runner and CLI (results.json,
the metrics table, embeddings.png, resuming), reward-free scoring, and the leaderboard."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fake_results import TINY_REWARD_FREE, TINY_TIERS
from typer.testing import CliRunner

from tlbench.agents import AgentRef
from tlbench.cli import app
from tlbench.envs.maze import MAP
from tlbench.leaderboard import load_entries, submit
from tlbench.leaderboard import validate as v
from tlbench.leaderboard.render import render
from tlbench.metrics import aligned, alignment_distances, embedding_scale, summarize_alignment
from tlbench.runner.evaluate import EvaluationError, evaluate
from tlbench.runner.probes import LOCKSTEP_PROBES, probe_set
from tlbench.scenarios import load_scenario

ROOT = Path(__file__).resolve().parents[1]
AGENTS = Path(__file__).resolve().parent / "agents"
EMBEDDER = f"{AGENTS / 'embedder.py'}:Embedder"

TINY = f"""\
id: test/tiny
version: 1
title: Tiny maze transfer (tests)
description: Maze to inverse maze with budgets small enough for unit tests.
references: []
sources:
  - env: tlbench/Maze-v0
target:
  env: tlbench/InverseMaze-v0
score: return
success_threshold: 0.5
normalization: {{random: -0.9, reference: 0.9}}
{TINY_TIERS}"""


@pytest.fixture
def tasks(tasks_with: Callable[[dict[str, str]], Path]) -> Path:
    """A tasks folder holding the shipped scenarios plus the tiny test ones."""
    return tasks_with({"test/tiny-rf": TINY_REWARD_FREE, "test/tiny": TINY})


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def embed(observations: np.ndarray, sign: float = 1.0) -> np.ndarray:
    """The Embedder test agent's embedding, computed here independently."""
    size = int(np.prod(observations.shape[1:]))
    w = np.random.default_rng(0).normal(size=(size, 2))
    return sign * (observations.reshape(len(observations), -1).astype(np.float64) @ w)


# -- the metric ---------------------------------------------------------------------------------


def test_distances_scale_and_success_by_hand() -> None:
    base = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 4.0]])
    moved = np.array([[0.0, 1.0], [3.0, 4.0], [3.0, 0.0]])
    assert alignment_distances(base, moved).tolist() == [1.0, 0.0, 5.0]
    # pairs: |(3,4)| = 5, |(0,4)| = 4, |(3,0)| = 3
    assert embedding_scale(base) == 4.0
    # the mean distance 2.0 is below half the scale (2.0)? no: success needs strictly below
    assert aligned([2.0, 1.9], [4.0, 4.0]).tolist() == [False, True]
    # abstract states of any shape are compared flattened
    assert alignment_distances(np.zeros((2, 2, 2)), np.ones((2, 2, 2))).tolist() == [2.0, 2.0]
    with pytest.raises(ValueError, match="same probe states"):
        alignment_distances(base, moved[:2])
    res = summarize_alignment([0.5, 1.5, 2.5], [6.0, 6.0, 9.0], [4.0, 4.0, 4.0], reps=200)
    assert res.transfer.mean_distance.estimate == 1.5
    assert res.transfer.success.tolist() == [True, True, False]
    assert res.transfer.success_rate == pytest.approx(2 / 3) and res.scratch.success_rate == 0.0
    iv = res.scratch.mean_distance
    assert iv.low <= 7.0 == iv.estimate <= iv.high
    assert json.loads(json.dumps(res.to_dict(), allow_nan=False))["num_runs"] == 3


# -- the probe states ---------------------------------------------------------------------------


def test_maze_probes_are_every_free_cell_seen_normal_and_inverse(tasks: Path) -> None:
    probes = probe_set(load_scenario("maze/inverse"), "smoke")
    assert probes is not None and len(probes) == 31
    free = sorted(8 * r + c for r in range(8) for c in range(8) if MAP[r][c] == "0")
    assert sorted(probes.cells.tolist()) == free
    walls = np.array([[float(ch) for ch in row] for row in MAP])
    for obs, cell in zip(probes.source, probes.cells, strict=True):
        expected = walls.copy()
        expected[cell // 8, cell % 8] = 0.5  # the agent
        np.testing.assert_array_equal(obs[0], expected)
    np.testing.assert_array_equal(probes.target, -probes.source)  # the same states, inverted
    rooms = dict(zip(probes.cells.tolist(), probes.groups.tolist(), strict=True))
    assert rooms[8 * 1 + 1] == 0 and rooms[8 * 6 + 6] == 1 and rooms[8 * 4 + 4] == 2
    # the reward-free scenario's states are the same (the goal is invisible)
    reward_free = probe_set(load_scenario("maze/inverse-reward-free"), "smoke")
    assert reward_free is not None
    np.testing.assert_array_equal(reward_free.source, probes.source)


def test_labyrinth_probes_are_seeded_states_of_both_envs(tasks: Path) -> None:
    scenario = load_scenario("labyrinth/inverse-grid")
    probes = probe_set(scenario, "smoke")
    assert probes is not None and len(probes) == LOCKSTEP_PROBES
    np.testing.assert_array_equal(probes.target, -probes.source)
    assert len({o.tobytes() for o in probes.source}) == len(probes)  # distinct states
    again = probe_set(scenario, "smoke")
    assert again is not None
    np.testing.assert_array_equal(again.source, probes.source)  # fixed seed: the same set
    # the first probe is the first state of the seeded first episode
    first, _ = scenario.sources_for("smoke")[0].make().reset(seed=0)
    np.testing.assert_array_equal(probes.source[0], first)
    # other robots, several sources: no hidden states in common
    assert probe_set(load_scenario("bullet/invpend/from-invdbpend"), "smoke") is None
    assert probe_set(load_scenario("bullet/ant/2-sources"), "smoke") is None


# -- through the runner -------------------------------------------------------------------------


def test_a_2d_embedder_is_scored_on_a_reward_free_scenario(tasks: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = run_cli("evaluate", EMBEDDER, "-s", "test/tiny-rf", "-o", str(out), "--in-process")
    assert res.exit_code == 0, res.output
    assert "scored by embedding-alignment" in res.stdout
    assert "embedding distance to base" in res.stdout and "final return" not in res.stdout
    assert (out / "embeddings.png").stat().st_size > 10_000
    assert not (out / "curves.png").exists()  # no returns on a reward-free target
    results = json.loads((out / "results.json").read_text())

    probes = probe_set(load_scenario("test/tiny-rf"), "smoke")
    assert probes is not None
    base = embed(probes.source)
    scratch = np.linalg.norm(base - embed(probes.target), axis=1)  # = 2 |base|
    scale = float(np.mean([np.linalg.norm(base[i] - base[j]) for i in range(31)
                           for j in range(i + 1, 31)]))  # fmt: skip
    for run in results["runs"]:
        assert "curve" not in run and "returns" not in run  # returns are not evaluated
        if run["condition"] == "source":
            assert run["alignment"]["scale"] == pytest.approx(scale)
        elif run["condition"] == "transfer":
            assert run["alignment"]["distances"] == [0.0] * 31
        else:
            np.testing.assert_allclose(run["alignment"]["distances"], scratch)
            assert run["alignment"]["distance"] == pytest.approx(float(np.mean(scratch)))
    metrics = results["metrics"]
    assert set(metrics) == {"alignment"}
    alignment = metrics["alignment"]
    assert alignment["num_runs"] == 4
    assert alignment["transfer"]["success_rate"] == 1.0
    assert alignment["transfer"]["mean_distance"]["estimate"] == 0.0
    assert alignment["scratch"]["mean_distance"]["estimate"] == pytest.approx(np.mean(scratch))
    assert alignment["scratch"]["success_rate"] == float(np.mean(scratch) < 0.5 * scale)

    # the transition predictions were saved for the plot
    with np.load(next((out / "embeddings").glob("*.npz"))) as data:
        assert data["transitions"].shape == (31, 4, 2)

    # resuming runs nothing; a run whose embeddings are lost runs again
    res = run_cli("evaluate", EMBEDDER, "-s", "test/tiny-rf", "-o", str(out), "--in-process")
    assert "0 executed now" in res.stdout
    scratch_key = next(r["key"] for r in results["runs"] if r["condition"] == "scratch")
    (out / "embeddings" / f"{scratch_key}.npz").unlink()
    res = run_cli("evaluate", EMBEDDER, "-s", "test/tiny-rf", "-o", str(out), "--in-process")
    assert "1 executed now" in res.stdout
    assert json.loads((out / "results.json").read_text())["metrics"] == metrics


def test_agents_without_embed_are_refused_on_alignment_scenarios(
    tasks: Path, tmp_path: Path
) -> None:
    res = run_cli(
        "evaluate", f"{AGENTS / 'crashing.py'}:RandomAgent", "-s", "test/tiny-rf",
        "-o", str(tmp_path / "out"),
    )  # fmt: skip
    assert res.exit_code == 2
    assert "scored by embedding alignment" in res.stderr and "has no embed()" in res.stderr
    assert "docs/agent-api.md" in res.stderr
    assert not (tmp_path / "out" / "runs").exists()  # nothing ran


def test_alignment_is_an_extra_on_return_scenarios(tasks: Path, tmp_path: Path) -> None:
    out = tmp_path / "embedder"
    result = evaluate(AgentRef.parse(EMBEDDER), load_scenario("test/tiny"), "standard", out,
                      workers=0, reps=200)  # fmt: skip
    metrics = result.results["metrics"]
    assert "final_return_iqm" in metrics["transfer"]  # the return metrics, as always
    assert metrics["alignment"]["transfer"]["success_rate"] == 1.0
    assert all(
        len(run["curve"]) == 3 for run in result.results["runs"] if run["target_seed"] is not None
    )
    # the leaderboard table of a return-scored scenario gets the alignment as extra columns
    board = tmp_path / "board"
    submit(result.results_path, board, name="embedder")
    render(load_entries(board), tmp_path / "site", reps=200)
    readme = (tmp_path / "site" / "README.md").read_text()
    assert "| negative transfer | embedding distance | aligned |" in readme
    # an agent without embed: no alignment, no embeddings, records as before
    out = tmp_path / "random"
    result = evaluate(AgentRef.parse(f"{AGENTS / 'crashing.py'}:RandomAgent"),
                      load_scenario("test/tiny"), "smoke", out, workers=0, reps=200)  # fmt: skip
    assert "alignment" not in result.results["metrics"] and result.alignment is None
    assert all("alignment" not in run for run in result.results["runs"])
    assert list((out / "embeddings").iterdir()) == []
    assert all("embeddings" not in json.loads(p.read_text()) for p in (out / "runs").iterdir())


def test_an_embed_that_returns_the_wrong_shape_fails_its_run(tasks: Path, tmp_path: Path) -> None:
    agent = tmp_path / "bad.py"
    agent.write_text(
        (AGENTS / "embedder.py").read_text()
        + "\n\nclass Bad(Embedder):\n    def embed(self, observations):\n"
        "        return np.zeros(3)\n"
    )
    result = evaluate(AgentRef.parse(f"{agent}:Bad"), load_scenario("test/tiny-rf"), "smoke",
                      tmp_path / "out", workers=0, reps=200)  # fmt: skip
    assert result.failed and "Bad.embed() returned" in result.failed[0]["error"]
    with pytest.raises(EvaluationError, match="no probe states"):
        bullet = load_scenario("bullet/invpend/from-invdbpend").model_copy(
            update={"score": "embedding-alignment", "success_threshold_": None,
                    "normalization_": None}
        )  # fmt: skip
        evaluate(AgentRef.parse(EMBEDDER), bullet, "smoke", tmp_path / "b", workers=0)


# -- the leaderboard ----------------------------------------------------------------------------


@pytest.fixture
def alignment_results(tasks: Path, tmp_path: Path) -> Path:
    out = tmp_path / "eval"
    evaluate(AgentRef.parse(EMBEDDER), load_scenario("test/tiny-rf"), "standard", out, workers=0)
    return out / "results.json"


def edited(path: Path, change: Any, dest: Path | None = None) -> Path:
    """``path``'s JSON changed by ``change``, written to ``dest`` (default: ``edited.json``
    beside it)."""
    data = json.loads(path.read_text())
    change(data)
    new = path.with_name("edited.json") if dest is None else dest
    new.write_text(json.dumps(data))
    return new


def test_leaderboard_recomputes_and_shows_alignment(
    alignment_results: Path, tmp_path: Path
) -> None:
    board = tmp_path / "board"
    done = submit(alignment_results, board, name="embedder")
    submitted = json.loads(alignment_results.read_text())
    assert done.entry.metrics == submitted["metrics"]  # recomputed, identical
    [entry] = load_entries(board)
    written = render([entry], tmp_path / "site", reps=200)
    assert Path("site/img/test/tiny-rf/standard-alignment.png") in written
    assert Path("site/img/test/tiny-rf/standard-curves.png") not in written
    readme = (tmp_path / "site" / "README.md").read_text()
    assert "| agent | version | runs | embedding distance | aligned |" in readme
    assert (
        'src="img/test/tiny-rf/standard-alignment.png"'
        in (tmp_path / "site" / "site" / "index.html").read_text()
    )
    assert "| embedder (transfer) | " in readme and "| 0.000 [0.000, 0.000] | 1.000 |" in readme


def test_leaderboard_rejects_tampered_alignment(alignment_results: Path, tmp_path: Path) -> None:
    board = tmp_path / "board"

    def target(data: dict[str, Any]) -> dict[str, Any]:
        run: dict[str, Any] = next(r for r in data["runs"] if r["condition"] == "scratch")
        return run

    def better_mean(data: dict[str, Any]) -> None:
        target(data)["alignment"]["distance"] = 0.0

    with pytest.raises(v.AlignmentMismatchError, match="mean of its distances"):
        submit(edited(alignment_results, better_mean), board)

    def fewer_probes(data: dict[str, Any]) -> None:
        a = target(data)["alignment"]
        a["distances"] = a["distances"][:5]
        a["distance"] = float(np.mean(a["distances"]))

    with pytest.raises(v.AlignmentMismatchError, match="31 probe states"):
        submit(edited(alignment_results, fewer_probes), board)

    def dropped(data: dict[str, Any]) -> None:
        del target(data)["alignment"]

    with pytest.raises(v.AlignmentMismatchError, match="scored by embedding alignment"):
        submit(edited(alignment_results, dropped), board)

    # a stored entry whose alignment or alignment metrics were edited afterwards
    done = submit(alignment_results, board, name="embedder")
    original = done.path.read_text()

    def consistent(data: dict[str, Any]) -> None:
        a = target(data)["alignment"]
        a["distances"] = [0.0] * len(a["distances"])
        a["distance"] = 0.0

    edited(done.path, consistent, done.path)
    with pytest.raises(v.DigestMismatchError):
        load_entries(board)

    def metric(data: dict[str, Any]) -> None:
        data["metrics"]["alignment"]["scratch"]["success_rate"] = 1.0

    done.path.write_text(original)
    load_entries(board)  # restored: valid again
    edited(done.path, metric, done.path)
    with pytest.raises(v.MetricsMismatchError, match="alignment"):
        load_entries(board)


# -- CRAR ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_crar_smoke_on_the_reward_free_maze(tmp_path: Path) -> None:
    """`tlbench evaluate baselines/crar --scenario maze/inverse-reward-free --tier smoke` end to
    end (about 2.5 CPU-minutes: 10 runs of 2,000 random steps and 2,000 updates)."""
    out = tmp_path / "crar"
    res = run_cli(
        "evaluate", str(ROOT / "baselines" / "crar"), "-s", "maze/inverse-reward-free",
        "-t", "smoke", "-o", str(out), "-w", "2", "-k", "verbose=false",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    results = json.loads((out / "results.json").read_text())
    alignment = results["metrics"]["alignment"]
    assert alignment["num_runs"] == 4
    for condition in ("transfer", "scratch"):
        assert 0.0 < alignment[condition]["mean_distance"]["estimate"] < 10.0
    with np.load(next((out / "embeddings").glob("*.npz"))) as data:
        assert data["embeddings"].shape == (31, 2) and data["transitions"].shape == (31, 4, 2)
    assert (out / "embeddings.png").is_file()
