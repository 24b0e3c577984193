"""The Dreamer baselines (baselines/dreamer): networks, world-model update, multi-source training,
FTL's layer rules, MMTL's wiring, save/load, determinism, learning, and smoke runs via the CLI."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

import tlbench  # noqa: F401  (registers the envs)
from baselines.dreamer import (
    FTL,
    MMTL,
    SIZES,
    Dreamer,
    DreamerConfig,
    DreamerNetworks,
    EnvIO,
    lambda_return,
)
from baselines.dreamer.ftl import fractional_transfer, transfer_rules
from baselines.dreamer.networks import Latent, kl_divergence, tanh_normal_mode
from tlbench.agents import AgentContext, AgentRef, BudgetExhausted
from tlbench.runner.budget import BudgetedEnv
from tlbench.runner.worker import evaluate_policy

ROOT = Path(__file__).resolve().parents[1]
DREAMER_DIR = str(ROOT / "baselines" / "dreamer")
PEND = "tlbench/InvertedPendulumSwingup-v0"
DOUBLE = "tlbench/InvertedDoublePendulumSwingup-v0"
CHEETAH = "tlbench/HalfCheetah-v0"
#: sizes small enough for unit tests (a few ms per update)
TINY: dict[str, Any] = {
    "size": "small",
    "deter": 16,
    "stoch": 4,
    "hidden": 16,
    "units": 16,
    "depth": 4,
    "batch_size": 4,
    "batch_length": 8,
    "horizon": 5,
    "train_every": 20,
    "train_steps": 2,
    "verbose": False,
}


pytestmark = pytest.mark.usefixtures("one_thread")


def make_env(env_id: str, episode: int | None = None, **kwargs: Any) -> gym.Env[Any, Any]:
    """An env; ``episode`` steps per episode if given (short episodes for the tests)."""
    if episode is not None:
        kwargs["max_episode_steps"] = episode
    return gym.make(env_id, **kwargs)


def spaces(env: gym.Env[Any, Any]) -> tuple[gym.Space[Any], gym.Space[Any]]:
    return env.observation_space, env.action_space


def context(
    tmp_path: Path,
    phase: str,
    sources: list[gym.Env[Any, Any]],
    target: gym.Env[Any, Any],
    seed: int = 0,
    steps: int = 100,
) -> AgentContext:
    first = sources[0] if phase == "source" else target
    work = tmp_path / f"work-{phase}-{seed}"
    work.mkdir(exist_ok=True)
    return AgentContext(
        *spaces(first),
        tuple(spaces(e) for e in sources),
        spaces(target),
        seed,
        "cpu",
        work,
        phase,
        steps,
        steps,
    )


def target_agent(
    cls: type[Dreamer] = Dreamer,
    tmp_path: Path | None = None,
    env_id: str = PEND,
    seed: int = 0,
    episode: int | None = 50,
    **kwargs: Any,
) -> tuple[Dreamer, gym.Env[Any, Any]]:
    """An agent of the target phase on ``env_id`` (its own source), and its env."""
    env = make_env(env_id, episode)
    folder = tmp_path or Path(__import__("tempfile").mkdtemp())
    return cls(context(folder, "target", [env], env, seed), **{**TINY, **kwargs}), env


def train(agent: Dreamer, env: gym.Env[Any, Any], steps: int, seed: int = 0) -> BudgetedEnv:
    """``train_target`` on a budgeted env, as the runner does."""
    budgeted = BudgetedEnv(env, steps, seed=seed)
    with contextlib.suppress(BudgetExhausted):
        agent.train_target(budgeted, steps)
    return budgeted


def params(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ----------------------------------------------------------------------------------------------
# Networks


def paper_nets(obs_shape: tuple[int, ...], action_dim: int = 6, discrete: bool = False) -> Any:
    return DreamerNetworks.from_sizes(
        obs_shape, action_dim, discrete, SIZES["paper"], torch.Generator().manual_seed(0)
    )


def linear_widths(module: torch.nn.Module) -> list[tuple[int, int]]:
    return [
        (m.in_features, m.out_features) for m in module.modules() if isinstance(m, torch.nn.Linear)
    ]


def test_pixel_networks_have_the_spec_shapes() -> None:
    nets = paper_nets((3, 64, 64))
    x = torch.zeros(2, 3, 3, 64, 64)  # (B, T, C, H, W)
    h = x.reshape(-1, 3, 64, 64)
    shapes = []
    for layer in nets.encoder.net:
        h = layer(h)
        if isinstance(layer, torch.nn.Conv2d):
            assert layer.kernel_size == (4, 4) and layer.stride == (2, 2)
            shapes.append(tuple(h.shape[1:]))
    assert shapes == [(32, 31, 31), (64, 14, 14), (128, 6, 6), (256, 2, 2)]
    assert nets.encoder(x).shape == (2, 3, 1024)
    convt = [m for m in nets.decoder.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [m.kernel_size[0] for m in convt] == [5, 5, 6, 6]
    assert [m.out_channels for m in convt] == [128, 64, 32, 3]
    assert linear_widths(nets.decoder) == [(230, 1024)]
    assert nets.decoder(torch.zeros(2, 3, 230)).shape == (2, 3, 3, 64, 64)
    assert nets.rssm.cell.hidden_size == 200 and nets.rssm.stoch_size == 30
    assert linear_widths(nets.rssm)[0] == (30 + 6, 200)  # img_in reads [z, action]
    assert linear_widths(nets.reward) == [(230, 400), (400, 400), (400, 1)]
    assert linear_widths(nets.value) == [(230, 400), (400, 400), (400, 400), (400, 1)]
    assert linear_widths(nets.actor)[-1] == (400, 12) and len(linear_widths(nets.actor)) == 5
    assert all(isinstance(m, torch.nn.ELU) for m in nets.reward if not hasattr(m, "weight"))


def test_vector_networks_and_discrete_actor() -> None:
    nets = paper_nets((9,), action_dim=4, discrete=True)
    assert nets.encoder(torch.zeros(5, 9)).shape == (5, 400)
    assert nets.decoder(torch.zeros(5, 230)).shape == (5, 9)
    feat = torch.randn(5, 230)
    sample = nets.actor.sample(feat, torch.Generator().manual_seed(0))
    assert torch.equal(sample.detach().sum(-1), torch.ones(5))  # one-hot
    assert sample.requires_grad  # straight-through gradients
    assert set(nets.actor.mode(feat).sum(-1).tolist()) == {1.0}


def test_actor_starts_wide_and_bounded() -> None:
    """Tanh-normal with init std 5: a fresh actor's samples spread over [-1, 1]."""
    nets = paper_nets((5,), action_dim=1)
    with torch.no_grad():
        out = nets.actor(torch.zeros(1, 230))
        mean, std = nets.actor._mean_std(out)
    assert std.item() == pytest.approx(5.0 + 1e-4, rel=1e-4)
    assert mean.item() == 0.0
    samples = nets.actor.sample(torch.zeros(2000, 230), torch.Generator().manual_seed(0))
    assert samples.abs().max() <= 1 and (samples.abs() > 0.9).float().mean() > 0.5


def test_tanh_normal_mode_matches_a_grid_search() -> None:
    mean = torch.tensor([0.0, 0.3, -1.0, 2.0, 0.1, -0.2, 4.0])
    std = torch.tensor([0.2, 0.5, 0.7, 1.0, 0.72, 1.5, 5.0])
    x = torch.linspace(-12, 12, 480_001, dtype=torch.float64)[:, None]
    m, s = mean.double(), std.double()
    log_density = -((x - m) ** 2) / (2 * s**2) + 2 * torch.log(torch.cosh(x))
    expected = torch.tanh(x[log_density.argmax(0), 0])
    got = tanh_normal_mode(mean, std).double()
    assert torch.allclose(got, expected, atol=2e-3), (got, expected)


def test_kl_and_lambda_return_by_hand() -> None:
    ones, zeros = torch.ones(1, 2), torch.zeros(1, 2)
    post = Latent(zeros, zeros, ones, ones)  # N(1, 1) per dim
    prior = Latent(zeros, zeros, zeros, 2 * ones)  # N(0, 4)
    per_dim = np.log(2) + (1 + 1) / (2 * 4) - 0.5
    assert kl_divergence(post, prior).item() == pytest.approx(2 * per_dim, rel=1e-6)
    r = torch.tensor([[1.0], [2.0], [3.0]])
    v = torch.tensor([[10.0], [20.0], [30.0]])
    d = torch.full((3, 1), 0.5)
    boot, lam = torch.tensor([40.0]), 0.5
    r2 = 3 + 0.5 * 40
    r1 = 2 + 0.5 * (0.5 * 30 + 0.5 * r2)
    r0 = 1 + 0.5 * (0.5 * 20 + 0.5 * r1)
    assert lambda_return(r, v, d, boot, lam).squeeze(1).tolist() == pytest.approx([r0, r1, r2])


def test_env_io_pads_observations_and_slices_actions() -> None:
    obs_space = gym.spaces.Box(-1, 1, (5,), np.float32)
    io = EnvIO(obs_space, gym.spaces.Box(-2.0, 2.0, (2,), np.float32), 9, "auto")
    assert io.obs_shape == (9,)
    x = io.observation(np.arange(5, dtype=np.float32))
    assert x.tolist() == [0, 1, 2, 3, 4, 0, 0, 0, 0]
    action = io.action(np.array([0.5, -1.0, 0.9, 0.9], np.float32))  # 4 wide, env uses 2
    assert action.dtype == np.float32 and action.tolist() == [1.0, -2.0]
    pixels = EnvIO(gym.spaces.Box(0, 255, (64, 64, 3), np.uint8), gym.spaces.Discrete(3), 0, "auto")
    picture = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    stored = pixels.observation(picture)
    assert stored.shape == (3, 64, 64) and stored.dtype == np.uint8
    assert np.array_equal(stored[1], picture[:, :, 1])
    assert pixels.action(np.array([0, 0, 1, 0], np.float32)) == 2
    with pytest.raises(ValueError, match="encoder=vector"):
        EnvIO(gym.spaces.Box(0, 1, (1, 8, 8)), gym.spaces.Discrete(4), 0, "conv")


def test_unknown_option_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="trian_every"):
        target_agent(tmp_path=tmp_path, trian_every=3)
    with pytest.raises(ValueError, match="size"):
        target_agent(tmp_path=tmp_path, size="huge")
    defaults = DreamerConfig()
    assert (defaults.model_lr, defaults.value_lr, defaults.actor_lr) == (6e-4, 8e-5, 8e-5)
    assert (defaults.free_nats, defaults.grad_clip, defaults.expl_noise) == (3.0, 100.0, 0.3)
    assert (defaults.train_every, defaults.train_steps, defaults.prefill) == (1000, 100, 5000)
    assert (defaults.discount, defaults.return_lambda, defaults.horizon) == (0.99, 0.95, 15)
    assert defaults.sizes()["batch_size"] == defaults.sizes()["batch_length"] == 50


# ----------------------------------------------------------------------------------------------
# The update


@pytest.mark.parametrize(
    ("env_id", "env_kwargs"), [(PEND, {}), (PEND, {"obs_mode": "pixels", "action_repeat": 2})]
)
def test_world_model_losses_fall_on_a_fixed_batch(
    env_id: str, env_kwargs: dict[str, Any], tmp_path: Path
) -> None:
    """60 updates (the spec's learning rates, free nats off so that the KL term trains too): the
    reconstruction, reward and model losses fall below 60% of their start (measured: state
    39%, 7%, 24%; pixels 29%, 2%, 30%; the KL rises from the near-zero of a fresh model)."""
    env = make_env(env_id, 40, **env_kwargs)
    agent = Dreamer(context(tmp_path, "target", [env], env), **{**TINY, "free_nats": 0.0})
    batch = agent.sample([agent.random_replay(env, 100)])
    with torch.no_grad():
        before = {k: float(v) for k, v in agent.world_model_losses(batch)[0].items()}
    for _ in range(60):
        agent.update(batch)
    with torch.no_grad():
        after = {k: float(v) for k, v in agent.world_model_losses(batch)[0].items()}
    for name in ("image", "reward", "model"):
        assert after[name] < 0.6 * before[name], (name, before[name], after[name])


def test_actor_and_value_train_only_their_own_weights(tmp_path: Path) -> None:
    agent, env = target_agent(tmp_path=tmp_path)
    batch = agent.sample([agent.random_replay(env, 60)])
    before = {name: params(m) for name, m in agent.nets.named_children()}
    agent.update(batch)
    for name, module in agent.nets.named_children():
        assert not same(params(module), before[name]), name  # every component learns

    # Each optimiser holds its own component's weights, and every weight has one optimiser.
    def ids(*names: str) -> set[int]:
        return {id(p) for n in names for p in agent.nets.get_submodule(n).parameters()}

    assert {id(p) for p in agent.model_opt.param_groups[0]["params"]} == ids(
        "encoder", "decoder", "rssm", "reward"
    )
    assert {id(p) for p in agent.actor_opt.param_groups[0]["params"]} == ids("actor")
    assert {id(p) for p in agent.value_opt.param_groups[0]["params"]} == ids("value")
    lrs = [o.param_groups[0]["lr"] for o in (agent.model_opt, agent.value_opt, agent.actor_opt)]
    assert lrs == [6e-4, 8e-5, 8e-5]


def test_amp_update_runs(tmp_path: Path) -> None:
    agent, env = target_agent(tmp_path=tmp_path, amp=True)
    losses = agent.update(agent.sample([agent.random_replay(env, 40)]))
    assert all(np.isfinite(v) for v in losses.values())


# ----------------------------------------------------------------------------------------------
# The loop, the budget, multiple sources


class Recorder(gym.Wrapper[Any, Any, Any, Any]):
    """Logs resets and actions of an env into a shared list as ``(name, event, value)``."""

    def __init__(self, env: gym.Env[Any, Any], name: str, log: list[Any]) -> None:
        super().__init__(env)
        self.name, self.log = name, log

    def reset(self, **kwargs: Any) -> Any:
        self.log.append((self.name, "reset", None))
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> Any:
        self.log.append((self.name, "step", action))
        return self.env.step(action)


def test_budget_is_used_exactly_and_prefill_scales(tmp_path: Path) -> None:
    agent, env = target_agent(tmp_path=tmp_path)
    budgeted = BudgetedEnv(env, 130, seed=0)
    agent.train_target(budgeted, 130)  # never asks for a step past the budget
    assert budgeted.steps == 130 and agent.env_steps == 130
    assert agent.prefill_steps(130) == 13 and agent.prefill_steps(10**6) == 5000
    # Blocks of 2 at steps 20, 40, ..., 120, and the last 10 steps' share: 2 x 10 / 20 = 1.
    assert agent.updates == 6 * 2 + 1
    agent, env = target_agent(tmp_path=tmp_path)
    with pytest.raises(BudgetExhausted):
        agent.train_target(BudgetedEnv(env, 50, seed=0), 130)


def test_schedule_counts_frames_with_an_action_repeat(tmp_path: Path) -> None:
    """Dreamer's code counts prefill and train_every in frames: at action repeat 2 a block of
    updates comes every train_every / 2 env steps."""
    env = make_env(PEND, 50, action_repeat=2)
    for repeat, updates in ((None, 6 * 2), (1, 3 * 2)):
        agent = Dreamer(context(tmp_path, "target", [env], env), **TINY, action_repeat=repeat)
        assert agent.frames_per_step(BudgetedEnv(env, 1, seed=0)) == (repeat or 2)
        train(agent, env, 60)
        assert agent.updates == updates, repeat
    assert agent.prefill_steps(10**6, 2) == 2500


def test_multi_source_pads_and_alternates_episodes(tmp_path: Path) -> None:
    log: list[Any] = []
    sources = [
        Recorder(make_env(PEND, 15), "pend", log),
        Recorder(make_env(CHEETAH, 10), "cheetah", log),
    ]
    target = make_env(DOUBLE, 15)
    agent = Dreamer(context(tmp_path, "source", sources, target), **TINY)
    assert agent.obs_shape == (26,) and agent.action_width == 6  # the widest: HalfCheetah's
    replays = agent._replays(2)
    agent.learn([BudgetedEnv(e, 40, seed=i) for i, e in enumerate(sources)], 40, replays)
    resets = [name for name, event, _ in log if event == "reset"]
    # One episode per env per round; the pendulum's 3rd episode stops at its budget (40 = 15+15+10).
    assert resets == ["pend", "cheetah"] * 3 + ["cheetah"]
    actions = {
        name: [a for n, e, a in log if n == name and e == "step"] for name in ("pend", "cheetah")
    }
    assert len(actions["pend"]) == len(actions["cheetah"]) == 40
    assert all(a.shape == (1,) for a in actions["pend"]) and all(
        a.shape == (6,) for a in actions["cheetah"]
    )
    pend_obs = replays[0]._obs[0][: len(replays[0])]
    assert np.all(pend_obs[:, 5:] == 0) and np.any(pend_obs[:, :5] != 0)  # padded with zeros
    assert np.any(replays[1]._obs[0][: len(replays[1]), 20:] != 0)
    assert agent.updates > 0
    batch = agent.sample(replays)
    assert batch.obs.shape == (4, 8, 26) and batch.actions.shape == (4, 8, 6)


def test_sequences_reset_the_state_at_episode_starts(tmp_path: Path) -> None:
    agent, env = target_agent(tmp_path=tmp_path, episode=5)
    replay = agent.random_replay(env, 30)  # 6 episodes of 5 steps, the 7th one's start: 37
    assert len(replay) == 37 and replay._first[0][:37].sum() == 7
    batch = replay.sample(np.random.default_rng(0), 50, 8, agent.device)
    assert batch.first[:, 0].all() and batch.first[:, 1:].any()
    # Where an episode starts, the stored action and reward are zeros.
    starts = batch.first.clone()
    starts[:, 0] = False
    assert torch.all(batch.actions[starts] == 0) and torch.all(batch.rewards[starts] == 0)


# ----------------------------------------------------------------------------------------------
# Save, load, fine-tuning


def source_artifact(tmp_path: Path, cls: type[Dreamer] = Dreamer, **kwargs: Any) -> Path:
    """A source agent on InvPend and HalfCheetah (target: InvDbPend), trained briefly, saved."""
    sources = [make_env(PEND, 15), make_env(CHEETAH, 10)]
    target = make_env(DOUBLE, 15)
    agent = cls(context(tmp_path, "source", sources, target, seed=3), **{**TINY, **kwargs})
    agent.train_source([BudgetedEnv(e, 40, seed=i) for i, e in enumerate(sources)], 40)
    folder = tmp_path / f"artifact-{cls.__name__}"
    folder.mkdir()
    agent.save(folder)
    return folder


def double_target(
    tmp_path: Path, cls: type[Dreamer], seed: int = 1, **kwargs: Any
) -> tuple[Dreamer, gym.Env[Any, Any]]:
    sources = [make_env(PEND, 15), make_env(CHEETAH, 10)]
    target = make_env(DOUBLE, 15)
    return cls(context(tmp_path, "target", sources, target, seed), **{**TINY, **kwargs}), target


def test_finetuning_copies_every_weight(tmp_path: Path) -> None:
    folder = source_artifact(tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == ["dreamer.json", "dreamer.pt"]
    meta = json.loads((folder / "dreamer.json").read_text())
    assert meta["obs_shape"] == [26] and meta["action_width"] == 6
    states = torch.load(folder / "dreamer.pt", weights_only=True)
    agent, env = double_target(tmp_path, Dreamer)
    assert agent.obs_shape == (9,) and agent.action_width == 1  # scratch: the target's own
    agent.load(folder)
    assert agent.obs_shape == (26,) and agent.action_width == 6  # padded as the source
    assert same(params(agent.nets), states)
    train(agent, env, 40)  # the target acts with the first of the 6 action dims
    obs, _ = env.reset(seed=0)
    action, _ = agent.predict(obs)
    assert action.shape == (1,)


def test_save_load_round_trip_gives_identical_predictions(tmp_path: Path) -> None:
    agent, env = target_agent(tmp_path=tmp_path, seed=2)
    train(agent, env, 60)
    folder = tmp_path / "saved"
    folder.mkdir()
    agent.save(folder)
    loaded, _ = target_agent(tmp_path=tmp_path, seed=5)
    loaded.load(folder)
    assert same(params(agent.nets), params(loaded.nets))
    for a in (agent, loaded):
        obs, _ = env.reset(seed=7)
        state, start, actions = None, np.ones(1, bool), []
        for _ in range(20):
            action, state = a.predict(obs, state, start)
            actions.append(action)
            start = np.zeros(1, bool)
            obs, *_ = env.step(action)
        a.actions = np.stack(actions)  # type: ignore[attr-defined]
    assert np.array_equal(agent.actions, loaded.actions)  # type: ignore[attr-defined]


def test_load_rejects_other_sizes(tmp_path: Path) -> None:
    folder = source_artifact(tmp_path)
    agent, _ = double_target(tmp_path, Dreamer, deter=32)
    with pytest.raises(ValueError, match="deter"):
        agent.load(folder)


# ----------------------------------------------------------------------------------------------
# FTL


def test_ftl_rules_layer_by_layer(tmp_path: Path) -> None:
    folder = source_artifact(tmp_path)
    source = torch.load(folder / "dreamer.pt", weights_only=True)
    agent, _ = double_target(tmp_path, FTL, omega=0.3)
    agent.load(folder)
    # The random weights the target started from: the same seed's fresh networks.
    fresh, _ = double_target(tmp_path, FTL)
    random = params(fresh._build((26,), 1, False))
    got = params(agent.nets)
    rules = agent.rules
    assert set(rules.values()) == {"copy", "fractional", "random", "split"}
    for name, rule in rules.items():
        component = name.split(".")[0]
        if component in ("encoder", "decoder", "rssm") and name != "rssm.img_in.weight":
            assert rule == "copy", name
        if rule == "copy":
            assert torch.equal(got[name], source[name]), name
        elif rule == "fractional":
            expected = random[name] + 0.3 * source[name]
            assert torch.allclose(got[name], expected, atol=1e-7), name
            assert not torch.allclose(got[name], random[name]), name
        elif rule == "random":
            assert torch.equal(got[name], random[name]), name
    fractional = sorted(n for n, r in rules.items() if r == "fractional")
    assert fractional == ["reward.4.bias", "reward.4.weight", "value.6.bias", "value.6.weight"]
    assert sorted(n for n, r in rules.items() if r == "random") == [
        "actor.net.8.bias",
        "actor.net.8.weight",
    ]
    # Hidden layers of the heads are copied.
    for name in ("reward.0.weight", "value.4.weight", "actor.net.6.weight"):
        assert rules[name] == "copy"
    # RSSM's action-reading input: latent columns copied, action columns random.
    stoch = agent.nets.rssm.stoch_size
    weight = got["rssm.img_in.weight"]
    assert weight.shape == (16, stoch + 1)  # the target's own action width
    assert torch.equal(weight[:, :stoch], source["rssm.img_in.weight"][:, :stoch])
    assert torch.equal(weight[:, stoch:], random["rssm.img_in.weight"][:, stoch:])
    assert rules["rssm.img_in.bias"] == "copy"


def test_ftl_default_omega_and_zero(tmp_path: Path) -> None:
    assert FTL.config_class().omega == 0.2
    nets = DreamerNetworks(
        (5,), 1, False, deter=8, stoch=4, hidden=8, units=8, depth=2, generator=torch.Generator()
    )
    before = params(nets)
    source = {k: torch.ones_like(v) for k, v in before.items()}
    fractional_transfer(nets, source, 0.0)
    after = params(nets)
    for name, rule in transfer_rules(nets).items():
        if rule in ("fractional", "random"):
            assert torch.equal(after[name], before[name]), name  # omega 0: the random weights
        elif rule == "copy":
            assert torch.equal(after[name], source[name]), name


# ----------------------------------------------------------------------------------------------
# MMTL


def mmtl_sources(tmp_path: Path, log: list[Any], **kwargs: Any) -> tuple[MMTL, Path]:
    sources = [
        Recorder(make_env(PEND, 15), "pend", log),
        Recorder(make_env(CHEETAH, 10), "cheetah", log),
        Recorder(make_env(DOUBLE, 15), "double", log),
    ]
    target = make_env(PEND, 15)
    agent = MMTL(context(tmp_path, "source", sources, target, seed=4), **{**TINY, **kwargs})
    agent.train_source([BudgetedEnv(e, 40, seed=i) for i, e in enumerate(sources)], 40)
    folder = tmp_path / "mmtl-artifact"
    folder.mkdir()
    agent.save(folder)
    return agent, folder


def test_mmtl_source_phase_uae_then_single_task_agents(tmp_path: Path) -> None:
    log: list[Any] = []
    agent, folder = mmtl_sources(tmp_path, log)
    steps = [name for name, event, _ in log if event == "step"]
    assert steps.count("pend") == steps.count("cheetah") == steps.count("double") == 40
    # The UAE first: the first two sources, 20 steps each (half their budgets), in turns;
    # then the single-task agents, one after the other, on the rest.
    first_double = steps.index("double")
    assert steps[:first_double].count("pend") == 40 and steps[:first_double].count("cheetah") == 40
    uae_part = [s for s in steps[:first_double]]
    assert uae_part[:15] == ["pend"] * 15 and uae_part[15:25] == ["cheetah"] * 10
    assert steps[first_double:] == ["double"] * 40
    assert len(agent.source_nets) == 3
    assert [n.actor.action_dim for n in agent.source_nets] == [1, 6, 1]  # single-task widths
    assert all(n.encoder is agent.uae for n in agent.source_nets)
    assert not any(p.requires_grad for p in agent.uae.parameters())
    states = torch.load(folder / "mmtl.pt", weights_only=True)
    assert {k.split(".")[0] for k in states} == {"uae", "reward0", "reward1", "reward2"}
    uae = {k[4:]: v for k, v in states.items() if k.startswith("uae.")}
    for nets in agent.source_nets:  # the UAE stayed frozen through the single-task training
        assert same(params(nets.encoder), uae)


@pytest.mark.parametrize("meta_inputs", ["latent+predictions", "latent"])
def test_mmtl_target_meta_model_wiring(meta_inputs: str, tmp_path: Path) -> None:
    _, folder = mmtl_sources(tmp_path, [])
    states = torch.load(folder / "mmtl.pt", weights_only=True)
    env = make_env(PEND, 15)
    sources = [make_env(PEND, 15), make_env(CHEETAH, 10), make_env(DOUBLE, 15)]
    agent = MMTL(context(tmp_path, "target", sources, env, 1), **TINY, meta_inputs=meta_inputs)
    agent.load(folder)
    nets, feat_dim = agent.nets, agent.nets.feat_dim
    with_predictions = meta_inputs == "latent+predictions"
    assert nets.reward[0].in_features == feat_dim + (3 if with_predictions else 0)
    assert len(agent.source_rewards) == 3
    for i, head in enumerate(agent.source_rewards):
        assert same(
            params(head), {k[8:]: v for k, v in states.items() if k.startswith(f"reward{i}.")}
        )
    feat = torch.randn(7, feat_dim)
    x = agent.meta_input(feat)
    if with_predictions:
        expected = torch.cat([feat, *(h(feat) for h in agent.source_rewards)], -1)
        assert torch.equal(x, expected)
    else:
        assert torch.equal(x, feat)
    # Changing a source head changes the meta-model's prediction only if it reads them.
    before = agent._reward(feat).detach().clone()
    with torch.no_grad():
        agent.source_rewards[1][-1].bias.add_(5.0)
    assert torch.equal(agent._reward(feat).detach(), before) != with_predictions
    # Training the target moves neither the UAE nor the source heads; the meta-model learns.
    frozen = (params(nets.encoder), [params(h) for h in agent.source_rewards])
    meta_before = params(nets.reward)
    train(agent, env, 60)
    assert same(params(nets.encoder), frozen[0])
    assert all(same(params(h), p) for h, p in zip(agent.source_rewards, frozen[1], strict=True))
    assert not same(params(nets.reward), meta_before)
    assert same(params(nets.encoder), {k[4:]: v for k, v in states.items() if k.startswith("uae.")})


def test_mmtl_uae_from_another_artifact(tmp_path: Path) -> None:
    dreamer = source_artifact(tmp_path)
    encoder = {
        k[8:]: v
        for k, v in torch.load(dreamer / "dreamer.pt", weights_only=True).items()
        if k.startswith("encoder.")
    }
    log: list[Any] = []
    sources = [Recorder(make_env(PEND, 15), "pend", log), Recorder(make_env(CHEETAH, 10), "c", log)]
    target = make_env(DOUBLE, 15)
    agent = MMTL(context(tmp_path, "source", sources, target, seed=3), **TINY, uae=str(dreamer))
    agent.train_source([BudgetedEnv(e, 30, seed=i) for i, e in enumerate(sources)], 30)
    assert agent.uae is not None and same(params(agent.uae), encoder)
    steps = [name for name, event, _ in log if event == "step"]
    assert steps == ["pend"] * 30 + ["c"] * 30  # no UAE training: single-task agents only


# ----------------------------------------------------------------------------------------------
# Determinism, acting, the API


def test_same_seed_same_numbers(tmp_path: Path) -> None:
    runs = []
    for seed in (3, 3, 4):
        agent, env = target_agent(tmp_path=tmp_path, seed=seed)
        train(agent, env, 80, seed=seed)
        obs, _ = env.reset(seed=0)
        runs.append((params(agent.nets), agent.predict(obs)[0], agent.history))
    assert same(runs[0][0], runs[1][0])
    assert np.array_equal(runs[0][1], runs[1][1]) and runs[0][2] == runs[1][2]
    assert not same(runs[0][0], runs[2][0])


def test_predict_leaves_training_untouched(tmp_path: Path) -> None:
    agent, env = target_agent(tmp_path=tmp_path)
    train(agent, env, 40)
    generator, rng = agent.generator.get_state(), agent.rng.bit_generator.state
    weights = params(agent.nets)
    obs, _ = env.reset(seed=0)
    state = None
    for i in range(5):
        action, state = agent.predict(obs, state, np.array([i == 0]), deterministic=bool(i % 2))
        obs, *_ = env.step(action)
    assert torch.equal(agent.generator.get_state(), generator)
    assert agent.rng.bit_generator.state == rng and same(params(agent.nets), weights)
    # Deterministic: the same episode start gives the same action; the state carries on.
    first = agent.predict(obs, None, np.ones(1, bool))
    again = agent.predict(obs, state, np.ones(1, bool))  # reset: as if from None
    assert np.array_equal(first[0], again[0])
    latent, last_action = first[1]
    assert isinstance(latent, Latent) and last_action.shape == (1, 1)
    batch = np.stack([obs, obs])
    actions, _ = agent.predict(batch)
    assert actions.shape == (2, 1)


def test_discrete_maze(tmp_path: Path) -> None:
    agent, env = target_agent(tmp_path=tmp_path, env_id="tlbench/Maze-v0", episode=None)
    assert agent.discrete and agent.obs_shape == (64,) and agent.action_width == 4
    train(agent, env, 60)
    assert agent.updates > 0
    obs, _ = env.reset(seed=0)
    action, _ = agent.predict(obs)
    assert isinstance(action, int) and action in range(4)


def test_the_cli_loads_the_package_and_its_classes() -> None:
    path = DREAMER_DIR
    assert AgentRef.parse(path).load_class().__name__ == "Dreamer"
    assert AgentRef.parse(path + ":FTL").load_class().__name__ == "FTL"
    assert AgentRef.parse(path + ":MMTL").load_class().__name__ == "MMTL"


def test_benchmark_runs_at_tiny_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location(
        "benchmarks_dreamer", ROOT / "benchmarks" / "dreamer.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    assert module.main(["--updates", "1", "--act-steps", "5", "--cases", "3"]) == 0
    (row,) = [
        line
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("state, size=small")
    ]
    assert "16x32" in row and row.endswith("x")


# ----------------------------------------------------------------------------------------------
# Learning


def random_return(env_id: str, episodes: int) -> float:
    env = gym.make(env_id)
    env.action_space.seed(0)
    total = 0.0
    for j in range(episodes):
        env.reset(seed=1_000_000 + j)
        done = False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total += float(reward)
            done = terminated or truncated
    return total / episodes


@pytest.mark.slow
def test_dreamer_learns_the_swingup_from_state(tmp_path: Path) -> None:
    """InvertedPendulumSwingup-v0 with state observations, ``size=small``, 4,000 steps with the
    spec's ratio of updates (10 every 100 steps: 390 updates) and 400 random prefill steps."""
    steps = 4_000
    env = make_env(PEND)
    kwargs = {"size": "small", "train_every": 100, "train_steps": 10, "prefill": 400}
    agent = Dreamer(context(tmp_path, "target", [env], env, steps=steps), **kwargs, verbose=False)
    train(agent, env, steps)
    learned = float(np.mean(evaluate_policy(agent, make_env(PEND), 3)))
    baseline = random_return(PEND, 3)
    print(f"Dreamer on the swing-up after {steps} steps: {learned:.1f}, random {baseline:.1f}")
    # Random: about -890 (the pole hangs); upright balance earns up to 1000.
    assert learned > baseline + 400, (learned, baseline)


# ----------------------------------------------------------------------------------------------
# The CLI


TINY_CLI = ("size=small", "batch_size=4", "batch_length=16", "train_steps=2", "verbose=false")


def test_cli_smoke_ftl_with_tiny_settings(tmp_path: Path, evaluate_cli: Callable[..., Any]) -> None:
    result = evaluate_cli(
        DREAMER_DIR + ":FTL", "bullet/invpend/2-sources", tmp_path / "out", *TINY_CLI, timeout=1800
    )
    assert result.returncode == 0, result.stdout + result.stderr
    records = [json.loads(p.read_text()) for p in (tmp_path / "out").rglob("runs/*.json")]
    assert len(records) == 5 and all(r["status"] == "ok" for r in records), records


@pytest.mark.slow
@pytest.mark.parametrize("agent", ["", ":MMTL"])
def test_cli_smoke_dreamer_and_mmtl_with_tiny_settings(
    agent: str, tmp_path: Path, evaluate_cli: Callable[..., Any]
) -> None:
    result = evaluate_cli(
        DREAMER_DIR + agent, "bullet/invpend/2-sources", tmp_path / "out", *TINY_CLI, timeout=1800
    )
    assert result.returncode == 0, result.stdout + result.stderr
    records = [json.loads(p.read_text()) for p in (tmp_path / "out").rglob("runs/*.json")]
    assert len(records) == 5 and all(r["status"] == "ok" for r in records), records
