"""Scenario files: the shipped ones load, fingerprints behave, every bad file gets a named error."""

from __future__ import annotations

import copy
import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from tlbench.cli import app
from tlbench.scenarios import (
    TIER_NAMES,
    EnvRef,
    Scenario,
    ScenarioError,
    Tier,
    load_scenario,
    scenario_ids,
    tasks_dir,
)

# The multi-source sets of Sasso et al. (Table 1): target -> the two sources, the third, the fourth.
TABLE1 = {
    "halfcheetah": ("Hopper", "Ant", "Walker2D", "InvertedPendulumSwingup"),
    "hopper": ("HalfCheetah", "Walker2D", "Ant", "InvertedPendulumSwingup"),
    "walker2d": ("HalfCheetah", "Hopper", "Ant", "InvertedPendulumSwingup"),
    "invpend": ("HalfCheetah", "InvertedDoublePendulumSwingup", "Hopper", "Ant"),
    "invdbpend": ("Hopper", "InvertedPendulumSwingup", "Walker2D", "Ant"),
    "ant": ("HalfCheetah", "Walker2D", "Hopper", "InvertedPendulumSwingup"),
}
BULLET_TARGETS = {
    "halfcheetah": "HalfCheetah",
    "hopper": "Hopper",
    "walker2d": "Walker2D",
    "invpend": "InvertedPendulumSwingup",
    "invdbpend": "InvertedDoublePendulumSwingup",
    "ant": "Ant",
}
# Single-source pairs of close relatives: target -> source.
SINGLE_SOURCE = {
    "bullet/walker2d/from-hopper": "Hopper",
    "bullet/hopper/from-walker2d": "Walker2D",
    "bullet/invpend/from-invdbpend": "InvertedDoublePendulumSwingup",
    "bullet/invdbpend/from-invpend": "InvertedPendulumSwingup",
}
BULLET = sorted(
    [f"bullet/{target}/{n}-sources" for target in TABLE1 for n in (2, 3, 4)] + list(SINGLE_SOURCE)
)
SHIPPED = [
    *BULLET,
    "labyrinth/inverse",
    "labyrinth/inverse-grid",
    "maze/inverse",
    "maze/inverse-reward-free",
]
# The paper's scratch Dreamer (1e6 env steps, 9 seeds), ../shared/specs/baselines.md.
PAPER_SCRATCH = {
    "halfcheetah": 1199,
    "hopper": 2076,
    "walker2d": 676,
    "invpend": 667,
    "invdbpend": 1184,
    "ant": 1148,
}


def _data(scenario_id: str = "maze/inverse") -> dict[str, Any]:
    """A shipped scenario file's data, to mutate into bad files."""
    return yaml.safe_load((tasks_dir() / f"{scenario_id}.yaml").read_text(encoding="utf-8"))


def _write(root: Path, data: dict[str, Any] | str, scenario_id: str = "maze/x") -> Path:
    """Write ``data`` (a mapping, or raw text) to ``root/<scenario_id>.yaml``."""
    path = root / f"{scenario_id}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, dict):
        data = {**data, "id": scenario_id} if "id" in data else data
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    else:
        text = data
    path.write_text(text, encoding="utf-8")
    return path


def _error(path: Path) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    for line in message.splitlines():
        assert line.startswith(str(path)), f"every line names the file: {line!r}"
    return message


# -- the shipped scenarios --------------------------------------------------------------------


def test_shipped_ids() -> None:
    assert scenario_ids() == SHIPPED


@pytest.mark.parametrize("scenario_id", SHIPPED)
def test_shipped_scenario_loads(scenario_id: str) -> None:
    scenario = load_scenario(scenario_id)
    assert scenario.id == scenario_id
    assert scenario.path is not None
    assert scenario.path.resolve() == (tasks_dir() / f"{scenario_id}.yaml").resolve()
    assert list(scenario.tiers) == list(TIER_NAMES)
    scenario.check_envs()
    assert load_scenario(scenario.path) == scenario  # by path as by id
    if scenario.score == "return":
        norm = scenario.normalization
        assert norm.random < scenario.success_threshold <= norm.reference
    else:
        with pytest.raises(ScenarioError, match="no return normalization"):
            _ = scenario.normalization
        with pytest.raises(ScenarioError, match="no return success threshold"):
            _ = scenario.success_threshold


def test_shipped_budgets() -> None:
    maze, labyrinth = load_scenario("maze/inverse"), load_scenario("labyrinth/inverse")
    # The transfer study's CRAR data regime.
    assert (maze.tier("paper").source_steps, maze.tier("paper").target_steps) == (5_000, 5_000)
    assert maze.tier("paper").target_seeds == 22
    paper = labyrinth.tier("paper")
    assert (paper.source_steps, paper.target_steps) == (200_000, 200_000)
    assert maze.tier("smoke").target_steps <= 2_000


def _env(name: str) -> str:
    return f"tlbench/{name}-v0"


def test_bullet_scenarios_are_the_papers_table_1() -> None:
    assert len(BULLET) == 18 + 4
    for target, sources in TABLE1.items():
        for n in (2, 3, 4):
            scenario = load_scenario(f"bullet/{target}/{n}-sources")
            assert [ref.env for ref in scenario.sources] == [_env(s) for s in sources[:n]]
            assert scenario.target.env == _env(BULLET_TARGETS[target])
    for scenario_id, source in SINGLE_SOURCE.items():
        scenario = load_scenario(scenario_id)
        assert [ref.env for ref in scenario.sources] == [_env(source)]


@pytest.mark.parametrize("scenario_id", BULLET)
def test_bullet_tiers_and_normalization(scenario_id: str) -> None:
    scenario = load_scenario(scenario_id)
    target = scenario_id.split("/")[1]
    # every env's own kwargs are the defaults: state observations, one action per frame ...
    assert all(ref.kwargs == {} for ref in scenario.envs)
    for name in ("smoke", "standard"):
        assert scenario.tier(name).env_kwargs == {}
        assert scenario.target_for(name) == scenario.target
    assert scenario.tier("smoke").target_steps <= 1_000
    # ... and the paper tier sees pixels with action repeat 2 for 1e6 frames (500,000 steps)
    paper = scenario.tier("paper")
    assert paper.env_kwargs == {"obs_mode": "pixels", "action_repeat": 2}
    assert paper.target_steps * 2 == 1_000_000
    assert paper.source_seeds * paper.target_seeds == 9
    for ref in [*scenario.sources_for("paper"), scenario.target_for("paper")]:
        assert ref.kwargs == {"obs_mode": "pixels", "action_repeat": 2}
    norm = scenario.normalization
    assert norm.reference == PAPER_SCRATCH[target]
    assert scenario.success_threshold == pytest.approx((norm.random + norm.reference) / 2, abs=0.01)


def test_normalization_of_the_maze_is_the_computed_one() -> None:
    # The optimal return from each of the 30 start cells is 1 - 0.01 * (d - 1); the sum of the
    # shortest-path lengths d from the start cells to the goal (6, 6) is 175, so the mean is
    # 1 - 0.01 * (175 - 30) / 30 = 0.951666... The scenario evaluates epsilon-greedy 0.1, so its
    # reference is the same policy's return under that noise, by dynamic programming.
    spec = importlib.util.spec_from_file_location(
        "labyrinth_layouts",
        Path(__file__).resolve().parents[1] / "scripts" / "labyrinth_layouts.py",
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.maze_exact(0.0, greedy=True) == pytest.approx(1 - 0.01 * (175 - 30) / 30)
    scenario = load_scenario("maze/inverse")
    assert scenario.tier("standard").eval_epsilon == 0.1
    norm = scenario.normalization
    assert norm.reference == pytest.approx(script.maze_exact(0.1, greedy=True), abs=1e-4)
    assert norm.random == pytest.approx(script.maze_exact(0.0, greedy=False), abs=1e-4)


# -- tiers and fingerprints ------------------------------------------------------------------


def test_tier_checkpoints_and_runs() -> None:
    tier = Tier(
        source_steps=0, target_steps=5_000, eval_every=1_000, eval_episodes=50,
        eval_policy="greedy", source_seeds=5, target_seeds=22,
    )  # fmt: skip
    assert tier.checkpoints == [0, 1_000, 2_000, 3_000, 4_000, 5_000]
    assert tier.runs == 5 * 22 * 2


def test_unknown_tier_suggests() -> None:
    with pytest.raises(ScenarioError, match=r"unknown tier 'standrd'; did you mean 'standard'\?"):
        load_scenario("maze/inverse").tier("standrd")


def test_fingerprint_is_stable_and_ignores_comments(tmp_path: Path) -> None:
    original = load_scenario("maze/inverse")
    assert load_scenario("maze/inverse").fingerprint == original.fingerprint
    assert re.fullmatch(r"[0-9a-f]{16}", original.fingerprint)
    text = original.path.read_text(encoding="utf-8")  # type: ignore[union-attr]
    copy_path = _write(tmp_path, "# another comment\n" + text, "maze/inverse")
    assert load_scenario(copy_path).fingerprint == original.fingerprint


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(version=d["version"] + 1),
        lambda d: d.update(description=d["description"] + " More."),
        lambda d: d["tiers"]["paper"].update(eval_episodes=51),
        lambda d: d["tiers"]["smoke"].update(source_seeds=3),
        lambda d: d["target"].update(kwargs={"obs_mode": "pixels"}),
        lambda d: d["normalization"].update(reference=0.95),
        lambda d: d.update(success_threshold=0.3),
        lambda d: d["references"][0].update(year=2022),
        lambda d: d["tiers"]["paper"].update(env_kwargs={"obs_mode": "pixels"}),
        lambda d: d["tiers"]["paper"].update(eval_epsilon=0.05),
        lambda d: d["tiers"]["paper"].update(eval_policy="greedy", eval_epsilon=None),
        lambda d: d["tiers"]["paper"].update(num_envs=2),
    ],
)
def test_fingerprint_changes_with_any_field(tmp_path: Path, change: Any) -> None:
    data = _data()
    before = load_scenario(_write(tmp_path / "a", data, "maze/inverse")).fingerprint
    changed = copy.deepcopy(data)
    change(changed)
    after = load_scenario(_write(tmp_path / "b", changed, "maze/inverse")).fingerprint
    assert after != before


def test_content_round_trips() -> None:
    scenario = load_scenario("maze/inverse-reward-free")
    again = Scenario.model_validate(scenario.content())
    assert again.content() == scenario.content()
    assert again.fingerprint == scenario.fingerprint


def test_an_empty_env_kwargs_leaves_content_and_fingerprint_as_without_it(tmp_path: Path) -> None:
    data = _data()
    before = load_scenario(_write(tmp_path / "a", data, "maze/inverse"))
    data["tiers"]["smoke"]["env_kwargs"] = {}
    after = load_scenario(_write(tmp_path / "b", data, "maze/inverse"))
    assert "env_kwargs" not in after.content()["tiers"]["smoke"]
    assert after.fingerprint == before.fingerprint


def test_tier_env_kwargs_round_trip_and_merge() -> None:
    scenario = load_scenario("bullet/walker2d/from-hopper")
    again = Scenario.model_validate(scenario.content())
    assert again.content() == scenario.content()
    assert again.fingerprint == scenario.fingerprint
    assert scenario.content()["tiers"]["paper"]["env_kwargs"] == {
        "obs_mode": "pixels",
        "action_repeat": 2,
    }
    # the tier's value wins over the env's own
    ref = EnvRef(env="tlbench/Hopper-v0", kwargs={"obs_mode": "state", "action_repeat": 3})
    assert ref.with_kwargs({"action_repeat": 2}).kwargs == {"obs_mode": "state", "action_repeat": 2}
    assert ref.with_kwargs({}) is ref
    env = scenario.target_for("paper").make()
    assert env.observation_space.shape == (64, 64, 3)
    assert env.unwrapped.action_repeat == 2  # type: ignore[attr-defined]
    env.close()


def test_tier_env_kwargs_unknown_to_an_env_are_named(tmp_path: Path) -> None:
    data = _data()
    data["tiers"]["paper"]["env_kwargs"] = {"obs_mod": "pixels"}
    message = _error(_write(tmp_path, data))
    assert (
        "tiers: paper.env_kwargs: tlbench/Maze-v0 takes no argument 'obs_mod'; "
        "did you mean 'obs_mode'?" in message
    )
    data["tiers"]["paper"]["env_kwargs"] = {"action_repeat": 2}  # a PyBullet-only argument
    assert "tlbench/Maze-v0 takes no argument 'action_repeat'" in _error(_write(tmp_path, data))
    data["tiers"]["paper"]["env_kwargs"] = {"obs_mode": 1.5e400}
    assert "env_kwargs.obs_mode must be a finite number" in _error(_write(tmp_path, data))


def test_bad_tier_env_kwargs_value_fails_check_envs_naming_the_tier(tmp_path: Path) -> None:
    data = _data()
    data["tiers"]["standard"]["env_kwargs"] = {"obs_mode": "rgb"}
    scenario = load_scenario(_write(tmp_path, data, "maze/inverse"))
    with pytest.raises(
        ScenarioError,
        match=r"sources\[0\] \(tier standard's env_kwargs\): making "
        r"tlbench/Maze-v0\(obs_mode=rgb\) failed: unknown obs_mode 'rgb'",
    ):
        scenario.check_envs()


def test_fingerprint_counts_the_env_version(monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = load_scenario("maze/inverse")
    before = scenario.fingerprint
    monkeypatch.setattr(EnvRef, "version", property(lambda self: 1))
    assert scenario.fingerprint != before


# -- bad files ---------------------------------------------------------------------------------


def test_yaml_syntax_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "id: maze/x\ntiers:\n  smoke: [1, 2\n  paper: 3\n")
    assert re.search(r"invalid YAML at line \d+, column \d+", _error(path))


def test_duplicate_key(tmp_path: Path) -> None:
    path = _write(tmp_path, "id: maze/x\nversion: 1\nversion: 2\n")
    assert "duplicate key 'version' (first at line 2)" in _error(path)


@pytest.mark.parametrize(
    ("text", "got"), [("", "an empty file"), ("- a\n- b\n", "a list"), ("3\n", "an integer")]
)
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str, got: str) -> None:
    message = _error(_write(tmp_path, text))
    assert "expected a mapping of keys" in message
    assert message.endswith(f"got {got}")


def test_unknown_key_is_named_with_allowed_keys_and_suggestion(tmp_path: Path) -> None:
    data = _data()
    data["tiers"]["smoke"]["eval_evry"] = 500
    data["titel"] = "typo"
    message = _error(_write(tmp_path, data))
    assert "tiers.smoke.eval_evry: unknown key 'eval_evry'; did you mean 'eval_every'?" in message
    assert "allowed keys: source_steps, target_steps, eval_every" in message
    assert ": titel: unknown key 'titel'; did you mean 'title'?" in message
    assert re.search(r"\(line \d+\)$", message.splitlines()[0])


def test_wrong_type_names_path_expected_and_got(tmp_path: Path) -> None:
    data = _data()
    data["tiers"]["smoke"]["target_steps"] = "lots"
    data["tiers"]["paper"]["source_seeds"] = True
    data["sources"] = {"env": "tlbench/Maze-v0"}
    message = _error(_write(tmp_path, data))
    assert (
        "tiers.smoke.target_steps: input should be a valid integer, got 'lots' (string)" in message
    )
    assert (
        "tiers.paper.source_seeds: input should be a valid integer, got True (boolean)" in message
    )
    assert "sources: expected a list, got" in message


def test_missing_keys(tmp_path: Path) -> None:
    data = _data()
    del data["title"]
    del data["tiers"]["smoke"]["eval_episodes"]
    message = _error(_write(tmp_path, data))
    assert f"{tmp_path / 'maze/x.yaml'}: missing key 'title'" in message
    assert "tiers.smoke: missing key 'eval_episodes'" in message


def test_evaluation_policy_errors_name_the_fix(tmp_path: Path) -> None:
    data = _data()
    del data["tiers"]["smoke"]["eval_epsilon"]
    data["tiers"]["standard"].update(eval_policy="greedy", eval_epsilon=0.1)
    data["tiers"]["paper"]["eval_policy"] = "softmax"
    message = _error(_write(tmp_path, data))
    assert "tiers.smoke: eval_policy epsilon-greedy needs eval_epsilon" in message
    assert "eval_epsilon (0.1) is only read with eval_policy epsilon-greedy, not 'greedy'" in (
        message
    )
    assert "tiers.paper.eval_policy" in message and "'softmax'" in message
    data = _data()
    del data["tiers"]["smoke"]["eval_policy"]
    data["tiers"]["paper"]["eval_epsilon"] = 1.5
    message = _error(_write(tmp_path, data))
    assert "tiers.smoke: missing key 'eval_policy'" in message
    assert "tiers.paper.eval_epsilon" in message


def test_num_envs_must_divide_budgets_and_interval(tmp_path: Path) -> None:
    data = _data()
    data["tiers"]["smoke"]["num_envs"] = 3
    message = _error(_write(tmp_path, data))
    assert "source_steps (2000) must be a multiple of num_envs (3)" in message
    data["tiers"]["smoke"]["num_envs"] = 0
    assert "tiers.smoke.num_envs" in _error(_write(tmp_path, data))
    data["tiers"]["smoke"]["num_envs"] = 4
    assert load_scenario(_write(tmp_path, data)).tier("smoke").num_envs == 4


def test_missing_tier(tmp_path: Path) -> None:
    data = _data()
    del data["tiers"]["paper"]
    assert "tiers: missing tier(s) paper" in _error(_write(tmp_path, data))


def test_unknown_tier_name_in_file(tmp_path: Path) -> None:
    data = _data()
    data["tiers"]["smok"] = data["tiers"].pop("smoke")
    message = _error(_write(tmp_path, data))
    assert "tiers.smok: unknown key 'smok'; did you mean 'smoke'?" in message


def test_unknown_env_id_suggests(tmp_path: Path) -> None:
    data = _data()
    data["target"]["env"] = "tlbench/InverseMze-v0"
    message = _error(_write(tmp_path, data))
    assert (
        "target.env: unknown env id 'tlbench/InverseMze-v0'; did you mean 'tlbench/InverseMaze-v0'?"
        in message
    )


def test_unknown_env_kwarg_suggests(tmp_path: Path) -> None:
    data = _data()
    data["sources"][0]["kwargs"] = {"reward_mod": "none"}
    message = _error(_write(tmp_path, data))
    assert "sources[0]: tlbench/Maze-v0 takes no argument 'reward_mod'; did you mean" in message


def test_bad_env_kwarg_value_fails_check_envs(tmp_path: Path) -> None:
    data = _data("labyrinth/inverse")
    data["target"]["kwargs"] = {"obs_mode": "grdi"}
    scenario = load_scenario(_write(tmp_path, data, "labyrinth/inverse"))
    with pytest.raises(ScenarioError, match=r"target: making .* failed: unknown obs_mode 'grdi'"):
        scenario.check_envs()


@pytest.mark.parametrize(
    ("tier_change", "expected"),
    [
        ({"eval_every": 300}, "eval_every (300) must divide target_steps (2000)"),
        ({"target_steps": 0}, "tiers.smoke.target_steps: input should be greater than 0, got 0"),
        ({"source_steps": -1}, "input should be greater than or equal to 0, got -1"),
    ],
)
def test_bad_tier_values(tmp_path: Path, tier_change: dict[str, int], expected: str) -> None:
    data = _data()
    data["tiers"]["smoke"].update(tier_change)
    assert expected in _error(_write(tmp_path, data))


def test_bad_normalization_and_threshold(tmp_path: Path) -> None:
    data = _data()
    data["normalization"] = {"random": 1.0, "reference": 0.5}
    assert "reference (0.5) must be greater than random (1.0)" in _error(_write(tmp_path, data))
    data = _data()
    data["success_threshold"] = 2.0
    assert "success_threshold (2.0) must lie above" in _error(_write(tmp_path, data))


def test_score_decides_whether_returns_are_normalised(tmp_path: Path) -> None:
    data = _data()
    del data["normalization"]
    assert "a return-scored scenario needs normalization" in _error(_write(tmp_path, data))
    data = _data()
    data["score"] = "embedding-alignment"
    assert "remove success_threshold and normalization" in _error(_write(tmp_path, data))
    data["score"] = "retrun"
    assert (
        "'retrun' (string) is not one of return, embedding-alignment; did you mean 'return'?"
        in (_error(_write(tmp_path, data)))
    )


def test_id_must_match_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _data()
    path = _write(tmp_path, data, "maze/x")
    path.rename(tmp_path / "maze" / "y.yaml")
    assert "id: 'maze/x' does not match the file's name" in _error(tmp_path / "maze" / "y.yaml")
    monkeypatch.setenv("TLBENCH_TASKS_DIR", str(tmp_path))
    assert "set id: maze/y" in _error(tmp_path / "maze" / "y.yaml")


def test_tasks_dir_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, _data(), "family/one")
    monkeypatch.setenv("TLBENCH_TASKS_DIR", str(tmp_path))
    assert tasks_dir() == tmp_path
    assert scenario_ids() == ["family/one"]
    assert load_scenario("family/one").id == "family/one"


def test_unknown_scenario_id_suggests() -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario("maze/invrse")
    assert str(info.value) == (
        "unknown scenario 'maze/invrse'; did you mean 'maze/inverse'? (`tlbench list` shows all)"
    )


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario(tmp_path / "nope.yaml")


def test_make_refuses_to_override_scenario_kwargs() -> None:
    ref = EnvRef(env="tlbench/Maze-v0", kwargs={"reward_mode": "none"})
    with pytest.raises(TypeError, match="already sets reward_mode='none'"):
        ref.make(reward_mode="goal")
    assert ref.make(obs_mode="pixels").observation_space.shape == (1, 48, 48)


def test_models_are_frozen() -> None:
    scenario = load_scenario("maze/inverse")
    with pytest.raises(ValueError, match="frozen"):
        scenario.version = 2
    assert isinstance(scenario, Scenario)


# -- the command line --------------------------------------------------------------------------

runner = CliRunner()


def test_cli_list() -> None:
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == SHIPPED
    line = dict(zip(SHIPPED, lines, strict=True))
    assert "tlbench/Maze-v0 -> tlbench/InverseMaze-v0" in line["maze/inverse"]
    assert line["maze/inverse-reward-free"].endswith("embedding-alignment")
    assert (
        "tlbench/Hopper-v0, tlbench/Ant-v0 -> tlbench/HalfCheetah-v0"
        in line["bullet/halfcheetah/2-sources"]
    )


@pytest.mark.parametrize("scenario_id", SHIPPED)
def test_cli_show(scenario_id: str) -> None:
    result = runner.invoke(app, ["show", scenario_id])
    assert result.exit_code == 0, result.output
    scenario = load_scenario(scenario_id)
    assert result.stdout.startswith(f"{scenario_id} (version {scenario.version}): {scenario.title}")
    assert "fingerprint:" in result.stdout and scenario.fingerprint in result.stdout
    for name in TIER_NAMES:
        tier = scenario.tier(name)
        table = result.stdout.split("\ntier ", 1)[1]  # (a description line may start "paper ")
        row = next(line for line in table.splitlines() if line.startswith(name + " "))
        assert row.split()[1:9] == [
            f"{n:,}"
            for n in (
                tier.source_steps, tier.target_steps, tier.eval_every, tier.eval_episodes,
                tier.source_seeds, tier.target_seeds, tier.source_seeds * tier.target_seeds * 2,
                tier.num_envs,
            )
        ]  # fmt: skip
        assert row.split(maxsplit=9)[9] == tier.evaluation


def test_cli_show_lists_the_env_kwargs_of_a_tier() -> None:
    result = runner.invoke(app, ["show", "bullet/invpend/from-invdbpend"])
    assert result.exit_code == 0, result.output
    assert "  - paper: obs_mode=pixels, action_repeat=2" in result.stdout.splitlines()
    assert "env kwargs" not in runner.invoke(app, ["show", "maze/inverse"]).stdout


def test_cli_show_unknown_id_exits_2_with_suggestion() -> None:
    result = runner.invoke(app, ["show", "maze/invrse"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "did you mean 'maze/inverse'?" in result.stderr
    assert "Traceback" not in result.output


def test_cli_show_bad_file_exits_2(tmp_path: Path) -> None:
    data = _data()
    data["tiers"]["smoke"]["eval_every"] = 300
    result = runner.invoke(app, ["show", str(_write(tmp_path, data))])
    assert result.exit_code == 2
    assert "eval_every (300) must divide target_steps (2000)" in result.stderr
