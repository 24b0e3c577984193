"""The leaderboard: every named submission error, storage rules, recomputation, the generated
files, the cross-scenario view and transfer matrices (on synthetic results in temporary
folders), and the committed leaderboard (every file valid and up to date)."""

from __future__ import annotations

import json
import pickle
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fake_results import SCENARIOS, make_results, scenario_file, write
from typer.testing import CliRunner

from tlbench.agents import AgentRef
from tlbench.cli import app
from tlbench.leaderboard import ERRORS, leaderboard_dir, load_entries, submit
from tlbench.leaderboard import validate as v
from tlbench.leaderboard.render import GENERATED, render, row_cells, stale_files
from tlbench.leaderboard.store import entry_files, write_entry
from tlbench.leaderboard.views import cross_views, rows, transfer_matrices
from tlbench.runner.evaluate import evaluate
from tlbench.scenarios import load_scenario

ROOT = Path(__file__).resolve().parents[1]
AGENTS = Path(__file__).resolve().parent / "agents"


@pytest.fixture
def tasks(tasks_with: Callable[[dict[str, str]], Path]) -> Path:
    """A tasks folder with the shipped scenarios and the test ones above."""
    return tasks_with({sid: scenario_file(sid, *pair) for sid, pair in SCENARIOS.items()})


@pytest.fixture
def board(tmp_path: Path) -> Path:
    return tmp_path / "leaderboards"


def target_run(data: dict[str, Any], index: int = 0) -> dict[str, Any]:
    runs: list[dict[str, Any]] = [r for r in data["runs"] if r["condition"] != "source"]
    return runs[index]


def refused(path: Path, board: Path, error: type[v.SubmissionError], **kwargs: Any) -> str:
    with pytest.raises(error) as info:
        submit(path, board, **kwargs)
    message = str(info.value)
    assert message.startswith(str(path)) or path.name in message  # names the file
    assert info.value.code == error.code
    return message


# -- every named error --------------------------------------------------------------------------


def test_every_error_kind_has_its_own_class_and_code() -> None:
    assert len(ERRORS) == len(set(ERRORS)) == 18
    for code, cls in ERRORS.items():
        assert issubclass(cls, v.SubmissionError) and issubclass(cls, ValueError)
        assert cls.code == code


def test_a_missing_file_is_unreadable(tasks: Path, board: Path, tmp_path: Path) -> None:
    message = refused(tmp_path / "nope.json", board, v.UnreadableError)
    assert "cannot read" in message


def test_truncated_json(tasks: Path, board: Path, tmp_path: Path) -> None:
    text = json.dumps(make_results(), indent=1)
    path = write(tmp_path / "r.json", text[: len(text) // 2])
    message = refused(path, board, v.InvalidJsonError)
    assert "truncated JSON" in message and "line" in message


def test_malformed_json_and_repeated_keys(tasks: Path, board: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "r.json", '{"schema": "tlbench.results/1",, "tier": "smoke"}')
    assert "invalid JSON at line 1" in refused(path, board, v.InvalidJsonError)
    path = write(tmp_path / "r.json", '{"schema": "a", "schema": "b"}')
    assert "'schema' appears twice" in refused(path, board, v.InvalidJsonError)


def test_non_utf8_bytes(tasks: Path, board: Path, tmp_path: Path) -> None:
    text = json.dumps(make_results(), indent=1).replace("Test CPU", "Test CPU \udcff")
    data = text.encode("utf-8", errors="surrogateescape")
    path = write(tmp_path / "r.json", data)
    message = refused(path, board, v.NotUtf8Error)
    offset = data.index(b"\xff")
    assert "not UTF-8" in message and "b'\\xff'" in message and f"offset {offset}" in message


def test_a_pickle_is_never_unpickled(tasks: Path, board: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "r.json", pickle.dumps(make_results()))
    assert "pickle" in refused(path, board, v.NotUtf8Error)


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers(tasks: Path, board: Path, tmp_path: Path, token: str) -> None:
    data = make_results()
    target_run(data, 1)["curve"][2] = "@@"
    path = write(tmp_path / "r.json", json.dumps(data).replace('"@@"', token))
    message = refused(path, board, v.NonFiniteError)
    index = data["runs"].index(target_run(data, 1))
    assert f"runs[{index}].curve[2] is" in message


def test_unknown_schema_version(tasks: Path, board: Path, tmp_path: Path) -> None:
    data = make_results() | {"schema": "tlbench.results/2"}
    message = refused(write(tmp_path / "r.json", data), board, v.UnknownSchemaError)
    assert "unknown schema version 'tlbench.results/2'" in message
    data = make_results()
    del data["schema"]
    assert "no 'schema' key" in refused(
        write(tmp_path / "r.json", data), board, v.UnknownSchemaError
    )
    data["schema"] = "tlbench.entry/1"
    message = refused(write(tmp_path / "r.json", data), board, v.UnknownSchemaError)
    assert "leaderboard entry, not a submission" in message


def test_keys_and_types_are_checked(tasks: Path, board: Path, tmp_path: Path) -> None:
    data = make_results()
    data["agent"]["colour"] = "blue"
    target_run(data)["curve"][0] = "0.5"
    del data["command"]
    message = refused(write(tmp_path / "r.json", data), board, v.SchemaViolationError)
    assert "agent.colour: unknown key" in message
    assert "command: missing key" in message
    assert re.search(r"runs\[\d+\]\.curve\[0\]: Input should be a valid number", message)


def test_unknown_scenarios_and_alignment_scenarios_without_alignment(
    tasks: Path, board: Path, tmp_path: Path
) -> None:
    data = make_results()
    data["scenario"]["id"] = "test/tinny"
    message = refused(write(tmp_path / "r.json", data), board, v.UnknownScenarioError)
    assert "did you mean 'test/tiny'" in message
    # returns only, on a scenario scored by embedding alignment (tests/test_alignment.py
    # submits a real one)
    data = make_results("maze/inverse-reward-free")
    message = refused(write(tmp_path / "r.json", data), board, v.AlignmentMismatchError)
    assert "scored by embedding alignment, so every run carries it" in message


def test_fingerprint_and_protocol_must_match_the_registered_scenario(
    tasks: Path, board: Path, tmp_path: Path
) -> None:
    data = make_results()
    data["scenario"]["fingerprint"] = "0" * 16
    message = refused(write(tmp_path / "r.json", data), board, v.FingerprintError)
    assert "'0000000000000000'" in message and load_scenario("test/tiny").fingerprint in message
    data = make_results()
    data["protocol"]["eval_episodes"] = 5
    message = refused(write(tmp_path / "r.json", data), board, v.FingerprintError)
    assert "eval_episodes 5 (registered: 3)" in message


def test_smoke_tier_results_are_refused_with_the_reason(
    tasks: Path, board: Path, tmp_path: Path
) -> None:
    message = refused(
        write(tmp_path / "r.json", make_results(tier="smoke")), board, v.SmokeTierError
    )
    assert "tier 'smoke' checks the pipeline" in message and "--tier standard" in message
    assert not board.exists() or not any(board.rglob("*.json"))


def test_run_counts_must_match_the_tier(tasks: Path, board: Path, tmp_path: Path) -> None:
    data = make_results()
    data["runs"].pop()
    message = refused(write(tmp_path / "r.json", data), board, v.RunCountError)
    assert (
        "9 runs, but tier 'standard' has 2 source seeds x (1 + 2 x 2 target seeds) = 10" in message
    )
    data = make_results()
    target_run(data, 2).update(status="failed", error="RuntimeError: boom")
    message = refused(write(tmp_path / "r.json", data), board, v.RunCountError)
    assert "did not finish" in message
    data = make_results()
    target_run(data, 0)["source_seed"] = 7
    assert "not part of the tier's plan" in refused(
        write(tmp_path / "r.json", data), board, v.RunCountError
    )
    data = make_results()
    data["agent"]["digest"] = "fedcba9876543210"  # runs of another agent
    assert "the runs come from another agent" in refused(
        write(tmp_path / "r.json", data), board, v.RunCountError
    )


def test_non_monotonic_checkpoints(tasks: Path, board: Path, tmp_path: Path) -> None:
    data = make_results()
    run = target_run(data, 1)
    run["checkpoints"] = [0, 200, 100]
    message = refused(write(tmp_path / "r.json", data), board, v.NonMonotonicStepsError)
    assert "step 100 at position 2 follows 200" in message
    data = make_results()
    target_run(data)["checkpoints"] = [0, 50, 200]
    message = refused(write(tmp_path / "r.json", data), board, v.NonMonotonicStepsError)
    assert "the tier evaluates at [0, 100, 200]" in message


def test_curves_must_be_the_means_of_their_returns(
    tasks: Path, board: Path, tmp_path: Path
) -> None:
    data = make_results()
    target_run(data)["curve"][1] += 0.5
    message = refused(write(tmp_path / "r.json", data), board, v.CurveMismatchError)
    assert "curve[1]" in message and "mean of its returns" in message
    data = make_results()
    target_run(data)["returns"][0].pop()
    assert "has 2 episodes" in refused(
        write(tmp_path / "r.json", data), board, v.CurveMismatchError
    )


def test_runs_over_budget(tasks: Path, board: Path, tmp_path: Path) -> None:
    data = make_results()
    target_run(data)["steps"]["target"] = 201
    message = refused(write(tmp_path / "r.json", data), board, v.OverBudgetError)
    assert "used 201 target env steps; the tier allows 200" in message


def test_display_names_must_name_a_file(tasks: Path, board: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "r.json", make_results())
    assert "'../evil'" in refused(path, board, v.InvalidNameError, name="../evil")
    refused(path, board, v.InvalidNameError, name="Upper Case")


# -- storing entries ----------------------------------------------------------------------------


def test_submit_stores_a_checked_entry_with_recomputed_metrics(
    tasks: Path, board: Path, tmp_path: Path
) -> None:
    path = write(tmp_path / "r.json", make_results())
    done = submit(path, board, name="toy")
    assert done.path == board / "test" / "tiny" / "standard" / "toy.json" and done.replaced is None
    stored = json.loads(done.path.read_text())
    assert stored["schema"] == "tlbench.entry/1"
    assert stored["agent_version"] == "0123456789abcdef"  # the code digest by default
    assert stored["metrics"]["num_runs"] == 4  # recomputed, the submitted block is gone
    assert stored["command"].startswith("tlbench evaluate toy.py")
    assert len(stored["curves_sha256"]) == 64
    assert [e.name for e in load_entries(board)] == ["toy"]
    assert submit(path, tmp_path / "other", dry_run=True).entry.name == "toyagent"
    assert not (tmp_path / "other").exists()


def test_duplicates_are_refused_and_a_new_version_replaces(
    tasks: Path, board: Path, tmp_path: Path
) -> None:
    first = write(tmp_path / "a.json", make_results())
    submit(first, board, name="toy", agent_version="1")
    message = refused(first, board, v.DuplicateEntryError, name="toy", agent_version="1")
    assert "'toy' version '1' is already on the leaderboard" in message
    message = refused(first, board, v.DuplicateEntryError, name="copy", agent_version="1")
    assert "these curves are already on the leaderboard" in message
    message = refused(first, board, v.DuplicateEntryError, name="toy", agent_version="2")
    assert "these curves" in message  # a new version needs new results
    second = write(tmp_path / "b.json", make_results(digest="00000000000000aa", seed=1))
    done = submit(second, board, name="toy", agent_version="2")
    assert done.replaced == "1"
    assert [(e.name, e.agent_version) for e in load_entries(board)] == [("toy", "2")]


def test_edited_entries_are_caught(tasks: Path, board: Path, tmp_path: Path) -> None:
    done = submit(write(tmp_path / "r.json", make_results()), board, name="toy")
    original = json.loads(done.path.read_text())

    def edited(change: Any) -> None:
        data = json.loads(json.dumps(original))
        change(data)
        done.path.write_text(json.dumps(data))

    def better(data: dict[str, Any]) -> None:  # consistent, but not the submitted curves
        run = target_run(data, 0)
        run["returns"][-1] = [1.0] * len(run["returns"][-1])
        run["curve"][-1] = 1.0

    edited(better)
    with pytest.raises(v.DigestMismatchError, match="changed after submission"):
        load_entries(board)
    edited(lambda d: d["metrics"]["transfer"]["final_return_iqm"].update(estimate=12.34))
    with pytest.raises(v.MetricsMismatchError, match="keys: transfer"):
        load_entries(board)
    edited(lambda d: None)
    load_entries(board)
    moved = board / "test" / "tiny" / "paper" / "toy.json"
    moved.parent.mkdir(parents=True)
    done.path.rename(moved)
    with pytest.raises(v.MisplacedEntryError, match="belongs at"):
        load_entries(board)


def test_the_same_curves_in_two_entry_files_are_duplicates(
    tasks: Path, board: Path, tmp_path: Path
) -> None:
    done = submit(write(tmp_path / "r.json", make_results()), board, name="toy")
    entry = load_entries(board)[0]
    copy = entry.model_copy(update={"name": "copy"})
    write_entry(done.path.with_name("copy.json"), copy)
    with pytest.raises(v.DuplicateEntryError, match="the same curves"):
        load_entries(board)


def test_recomputed_metrics_equal_what_evaluate_wrote(
    tasks: Path, board: Path, tmp_path: Path
) -> None:
    scenario = load_scenario("test/tiny")
    out = tmp_path / "eval"
    result = evaluate(
        AgentRef.parse(f"{AGENTS / 'crashing.py'}:RandomAgent"),
        scenario,
        "standard",
        out,
        workers=0,
    )
    done = submit(result.results_path, board, name="random")
    assert done.entry.metrics == result.results["metrics"]


def test_cli_submit_and_leaderboard(tasks: Path, board: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    path = write(tmp_path / "r.json", make_results())
    res = runner.invoke(app, ["submit", str(path), "--name", "toy", "--dir", str(board)])
    assert res.exit_code == 0, res.output
    assert "stored 'toy' version '0123456789abcdef' on 'test/tiny'" in res.output
    res = runner.invoke(app, ["submit", str(path), "--name", "toy", "--dir", str(board)])
    assert res.exit_code == 1 and "[duplicate-entry]" in res.output
    res = runner.invoke(app, ["leaderboard", "--dir", str(board), "--check"])
    assert res.exit_code == 1 and "out of date" in res.output
    res = runner.invoke(app, ["leaderboard", "--dir", str(board)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["leaderboard", "--dir", str(board), "--check"])
    assert res.exit_code == 0 and "up to date" in res.output


def test_the_page_names_runs_made_with_other_versions(
    tasks: Path, board: Path, tmp_path: Path
) -> None:
    for name, seed in (("same", 0), ("mixed", 1)):
        data = make_results(seed=seed)
        for run in data["runs"]:
            run["versions"], run["device"] = dict(data["versions"]), dict(data["device"])
        if name == "mixed":  # two runs made by an earlier command, elsewhere
            target_run(data)["versions"]["python"] = "3.10.2"
            target_run(data, 1)["device"]["cpu"] = "Another CPU"
        submit(write(tmp_path / f"{name}.json", data), board, name=name)
    render(load_entries(board), tmp_path / "out", reps=200)
    page = (tmp_path / "out" / "site" / "index.html").read_text()
    assert page.count("runs made otherwise") == 1
    assert "python: 3.11.0 in 9 runs, 3.10.2 in 1 run (the results record 3.11.0)" in page
    assert "cpu: Test CPU in 9 runs, Another CPU in 1 run" in page


# -- views --------------------------------------------------------------------------------------


def test_transfer_matrix_appears_for_a_family_with_several_pairs(
    tasks: Path, board: Path, tmp_path: Path
) -> None:
    for i, sid in enumerate(["toy/maze", "toy/labyrinth", "toy/both", "test/tiny"]):
        path = write(tmp_path / f"{i}.json", make_results(sid, seed=i, gain=0.1 * i))
        submit(path, board, name="toy")
    entries = load_entries(board)
    matrices = transfer_matrices(entries)
    assert [(m.family, m.tier, m.name) for m in matrices] == [("toy", "standard", "toy")]
    m = matrices[0]
    assert m.sources == ["Maze-v0", "Maze-v0 + MetaLabyrinth-v0", "MetaLabyrinth-v0"]
    assert m.targets == ["InverseMaze-v0", "InverseMetaLabyrinth-v0"]
    assert {scenario for scenario, _ in m.cells.values()} == {
        "toy/maze",
        "toy/labyrinth",
        "toy/both",
    }
    by_scenario = {e.scenario.id: e for e in entries}
    ratio = m.cells[("MetaLabyrinth-v0", "InverseMaze-v0")][1]
    assert ratio.estimate == by_scenario["toy/labyrinth"].metrics["transfer_ratio_iqm"]["estimate"]
    written = render(entries, tmp_path / "out", reps=200)
    assert Path("site/img/matrix/toy-standard.png") in written
    readme = (tmp_path / "out" / "README.md").read_text()
    assert "### toy family, standard tier: toy (transfer)" in readme
    assert "test family" not in readme  # one pair only: no matrix


def test_cross_scenario_view_uses_as_many_runs_of_each_scenario(
    tasks: Path, board: Path, tmp_path: Path
) -> None:
    submit(write(tmp_path / "a.json", make_results("test/tiny", "standard")), board, name="a")
    submit(
        write(tmp_path / "b.json", make_results("toy/maze", "standard", seed=1)), board, name="a"
    )
    submit(
        write(tmp_path / "c.json", make_results("toy/maze", "standard", seed=2)), board, name="b"
    )
    [view] = cross_views(load_entries(board), reps=200)
    assert view.tier == "standard" and view.scenarios == ["test/tiny", "toy/maze"]
    assert view.suite == "grid" and view.slug == "grid-standard"
    assert view.runs_per_scenario == 4 and view.excluded == ["b"]
    assert sorted(view.scores) == ["a (scratch)", "a (transfer)"]
    assert view.scores["a (transfer)"].shape == (4, 2)
    assert set(view.intervals["a (scratch)"]) == {"iqm", "mean", "median", "optimality_gap"}


def test_rows_show_both_conditions_of_an_entry(tasks: Path, board: Path, tmp_path: Path) -> None:
    submit(write(tmp_path / "a.json", make_results()), board, name="toy")
    [fine_tune, scratch] = rows(load_entries(board))
    assert fine_tune.label == "toy (transfer)" and scratch.label == "toy (scratch)"
    assert fine_tune.improvement is not None and scratch.improvement is None
    cells = row_cells(scratch)
    assert cells[3] == "—" and cells[4].count("[") == 1


# -- the committed leaderboard ------------------------------------------------------------------


def test_committed_leaderboard_entries_are_valid_and_unique() -> None:
    """Every entry validates, its digest matches its curves, its metrics equal a recomputation
    from the curves, and no (agent, version, scenario, tier) or curves appear twice."""
    root = leaderboard_dir()
    entries = load_entries(root)  # raises the first SubmissionError
    assert entries, f"{root} has no entries"
    keys = [(e.name, e.agent_version, e.scenario.id, e.tier) for e in entries]
    assert len(keys) == len(set(keys))
    for entry in entries:
        assert entry.command.startswith("tlbench evaluate ")


def test_committed_tables_show_the_recomputed_metrics() -> None:
    root = leaderboard_dir()
    readme = (root / "README.md").read_text(encoding="utf-8")
    for entry in load_entries(root):
        scenario = load_scenario(entry.scenario.id)
        recomputed = v.recompute_metrics(entry, scenario)
        fresh = entry.model_copy(update={"metrics": recomputed})
        for row in rows([fresh]):
            line = "| " + " | ".join(c.replace("|", "\\|") for c in row_cells(row)) + " |"
            assert line in readme, f"{entry.scenario.id} {entry.tier} {row.label}: {line}"


def test_committed_generated_files_are_up_to_date() -> None:
    root = leaderboard_dir()
    assert stale_files(root) == [], "run `tlbench leaderboard` and commit the result"
    # nothing else lives there: entries (checked above) and generated files only
    others = [
        p.relative_to(root)
        for p in root.rglob("*")
        if p.is_file()
        and p.relative_to(root).parts[0] not in GENERATED
        and p not in entry_files(root)
    ]
    assert others == []
