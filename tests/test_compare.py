"""``tlbench compare``: conditions, intervals, pairwise probabilities, the 2-means split of
alignment distances, the inputs it accepts and the errors it gives."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fake_results import SCENARIOS, TINY_REWARD_FREE, make_results, scenario_file, write
from typer.testing import CliRunner

from tlbench.agents import AgentRef
from tlbench.cli import app
from tlbench.compare import CompareError, Split, compare, split_lines, tables, two_means
from tlbench.leaderboard import submit
from tlbench.leaderboard import validate as v
from tlbench.runner.evaluate import evaluate
from tlbench.scenarios import load_scenario

AGENTS = Path(__file__).resolve().parent / "agents"
REPS = 300  # bootstrap replications: enough for the checks, fast


@pytest.fixture
def tasks(tasks_with: Callable[[dict[str, str]], Path]) -> Path:
    return tasks_with({sid: scenario_file(sid, *pair) for sid, pair in SCENARIOS.items()})


def results(tmp_path: Path, name: str, **kwargs: Any) -> Path:
    return write(tmp_path / name / "results.json", make_results(**kwargs))


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_conditions_are_ranked_with_the_metrics_evaluate_computes(
    tasks: Path, tmp_path: Path
) -> None:
    good = results(tmp_path, "good", gain=0.8, digest="1" * 16)
    bad = results(tmp_path, "bad", gain=-0.6, digest="2" * 16)
    result = compare([bad, good], ["bad", "good"], reps=2000)
    # Same seed: the scratch runs are identical in both files, so they are one control.
    assert [c.label for c in result.conditions] == ["bad", "good", "scratch control"]
    assert result.ranking() == ["good", "scratch control", "bad"]
    # The intervals are the ones tlbench evaluate (and the leaderboard) compute per file.
    metrics = v.check_submission(good).metrics
    assert result.final_return["good"].to_dict() == metrics["transfer"]["final_return_iqm"]
    assert result.auc["scratch control"].to_dict() == metrics["scratch"]["auc_iqm"]
    # P(X > Y) + P(Y > X) = 1 for every pair; the gains order them.
    for (x, y), iv in result.improvement.items():
        assert iv.estimate + result.improvement[(y, x)].estimate == pytest.approx(1.0)
        assert iv.low <= iv.estimate <= iv.high
    assert result.improvement[("good", "bad")].estimate > 0.9
    assert len(result.improvement) == 3 * 2
    assert result.splits == {}  # no alignment in these results


def test_scratch_controls_that_differ_are_all_shown(tasks: Path, tmp_path: Path) -> None:
    a = results(tmp_path, "a", seed=1, digest="1" * 16)
    b = results(tmp_path, "b", seed=2, digest="2" * 16)
    result = compare([a, b], reps=REPS)
    # Default labels: the agent's name (and its -k arguments); repeated ones are numbered.
    assert [c.label for c in result.conditions] == [
        "ToyAgent #1",
        "ToyAgent #2",
        "ToyAgent #1 (scratch)",
        "ToyAgent #2 (scratch)",
    ]


def test_cli_prints_tables_and_writes_json_and_plot(tasks: Path, tmp_path: Path) -> None:
    good = results(tmp_path, "good", gain=0.8, digest="1" * 16)
    bad = results(tmp_path, "bad", gain=-0.6, digest="2" * 16)
    out = tmp_path / "cmp"
    res = run_cli(
        "compare", str(good.parent), str(bad), "-l", "good", "-l", "bad", "--out", str(out),
        "--reps", str(REPS),
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "Comparison on test/tiny (standard tier)" in res.output
    assert "good > scratch control" in res.output  # the adjacent-pairs table
    data = json.loads((out / "compare.json").read_text())
    assert data["schema"] == "tlbench.compare/1"
    assert data["ranking"] == ["good", "scratch control", "bad"]
    assert {(p["x"], p["y"]) for p in data["probability_of_improvement"]} >= {("good", "bad")}
    assert (out / "compare.png").stat().st_size > 10_000


def test_leaderboard_entries_can_be_compared(tasks: Path, tmp_path: Path) -> None:
    good = results(tmp_path, "good", gain=0.8, digest="1" * 16)
    bad = results(tmp_path, "bad", gain=-0.6, digest="2" * 16)
    entry = submit(good, tmp_path / "board", name="my-agent").path
    result = compare([entry, bad], reps=REPS)
    assert result.ranking()[0] == "my-agent"  # an entry is labelled with its name


def test_inputs_that_do_not_belong_together_are_refused(tasks: Path, tmp_path: Path) -> None:
    tiny = results(tmp_path, "a")
    other = results(tmp_path, "b", scenario_id="toy/maze")
    smoke = results(tmp_path, "c", tier="smoke")
    with pytest.raises(CompareError, match=r"needs at least two"):
        compare([tiny])
    with pytest.raises(CompareError, match=r"b/results.json: scenario is 'toy/maze'.*'test/tiny'"):
        compare([tiny, other])
    with pytest.raises(CompareError, match=r"tier is 'smoke'"):
        compare([tiny, smoke])
    with pytest.raises(CompareError, match=r"1 label\(s\) for 2 results file\(s\)"):
        compare([tiny, tiny], ["one"])
    # A file that fails a leaderboard check is refused with that check's error and code.
    broken = write(tmp_path / "broken.json", '{"schema": "tlbench.results/1", ')
    res = run_cli("compare", str(tiny), str(broken), "--out", str(tmp_path / "x"))
    assert res.exit_code == 1
    assert "[invalid-json]" in res.output and "broken.json" in res.output
    assert not (tmp_path / "x").exists()  # nothing written


def test_two_means_is_the_exact_split_with_a_gaussian_reference() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        x = rng.normal(0, 1, 12) + np.repeat([0.0, rng.uniform(0, 6)], 6)
        split = two_means(x)
        assert split is not None
        xs = np.sort(x)
        sse = [((xs[:k] - xs[:k].mean()) ** 2).sum() + ((xs[k:] - xs[k:].mean()) ** 2).sum()
               for k in range(1, 12)]  # fmt: skip
        k = int(np.argmin(sse)) + 1
        assert split.low_count == k and split.low_mean == pytest.approx(xs[:k].mean())
        assert split.explained == pytest.approx(1 - min(sse) / ((xs - xs.mean()) ** 2).sum())
        assert xs[k - 1] < split.cut < xs[k]
    assert two_means([2.0, 2.0, 2.0]) is None
    # Two tight clusters (the paper's 1.1 and 6.2) are separated; evenly spread values and
    # Gaussian samples are not (about 5% of Gaussian samples are, by construction).
    paper_like = two_means([1.0, 1.1, 1.2, 1.15, 6.1, 6.2, 6.3, 6.0, 6.25])
    assert paper_like is not None and paper_like.separated and paper_like.explained > 0.99
    assert Split.from_dict(json.loads(json.dumps(paper_like.to_dict()))) == paper_like
    assert paper_like.p_value < 0.001
    spread = two_means(np.linspace(0.0, 5.0, 24))
    assert spread is not None and not spread.separated and spread.explained > 0.7
    gaussian = [two_means(rng.normal(0, 1, 30), seed=i) for i in range(40)]
    assert sum(g.separated for g in gaussian if g is not None) <= 6


def test_alignment_is_compared_and_split(
    tasks_with: Callable[[dict[str, str]], Path], tmp_path: Path
) -> None:
    """Real evaluations of the Embedder test agent on a reward-free scenario: its transfers
    align exactly (distance 0), its scratch runs do not."""
    tasks_with({"test/tiny-rf": TINY_REWARD_FREE})
    agent = AgentRef.parse(f"{AGENTS / 'embedder.py'}:Embedder")
    scenario = load_scenario("test/tiny-rf")
    evaluate(agent, scenario, "smoke", tmp_path / "a", workers=0)
    result = compare([tmp_path / "a", tmp_path / "a"], ["one", "two"], reps=REPS)
    assert not result.scores_returns and not result.improvement
    assert [c.label for c in result.conditions] == ["one", "two", "scratch control"]
    assert result.distance["one"].estimate == 0.0
    assert result.distance["scratch control"].estimate > 0.0
    assert result.ranking()[-1] == "scratch control"  # smallest distance first
    # Each transfer condition's distances are split on their own; all 0 here: nothing to split.
    assert result.splits == {"one": None, "two": None}
    assert split_lines(result) == [
        f"{label}: embedding distances of the transfers: fewer than 3 values or all equal, "
        "nothing to split"
        for label in ("one", "two")
    ]
    assert len(tables(result)) == 1  # no pairwise table without returns
