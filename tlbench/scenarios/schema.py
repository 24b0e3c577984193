"""The pydantic models of a scenario file: what is transferred to what, and under which protocol.

Every model forbids unknown keys, is frozen and validates strictly (a YAML ``"5000"`` is not an
integer, ``true`` is not a number), so that a typo in a scenario file is an error, not a silent
default. Loading files and turning validation errors into readable messages is the job of
:mod:`tlbench.scenarios.registry`.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import inspect
import json
import math
import re
from pathlib import Path
from typing import Any, Literal, get_args

import gymnasium as gym
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from tlbench.envs import env_ids, env_info, suggest

TierName = Literal["smoke", "standard", "paper"]
#: how the runner acts for the agent in an evaluation episode (see :class:`Tier`)
EvalPolicy = Literal["greedy", "sampled", "epsilon-greedy"]
#: the protocol tiers every scenario defines, cheapest first
TIER_NAMES: tuple[str, ...] = get_args(TierName)

ScoreName = Literal["return", "embedding-alignment"]

#: bumped when the fingerprint's recipe changes, so old and new fingerprints never collide
FINGERPRINT_FORMAT = 1

_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)*")
_ENV_VERSION = re.compile(r"-v(\d+)$")
# Arguments of an env's constructor that a scenario may not set: the look of the window is not
# part of a protocol, and what the registration fixes (``inverse``) is chosen by the env id.
_VIEW_ONLY_KWARGS = frozenset({"render_mode"})


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when it lies under it, else absolute."""
    path = path.absolute()
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class ScenarioError(ValueError):
    """A scenario that cannot be found, read or validated.

    The message names the file (or the unknown id), the key path of each problem and the fix,
    one problem per line.
    """


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def _check_json_value(value: Any, where: str) -> None:
    """Raise ``ValueError`` unless ``value`` is plain JSON data (so it can be fingerprinted)."""
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where} must be a finite number, got {value!r}")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_json_value(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where} has a non-string key {key!r}")
            _check_json_value(item, f"{where}.{key}")
        return
    raise ValueError(
        f"{where} must be a string, number, boolean, null, list or mapping, "
        f"got {value!r} ({type(value).__name__}); quote it to make it a string"
    )


@functools.cache
def _settable_kwargs(env_id: str) -> tuple[str, ...] | None:
    """The keyword arguments a scenario may pass to ``env_id``, or ``None`` if any is accepted."""
    info = env_info(env_id)
    module, _, name = info.entry_point.partition(":")
    creator = getattr(importlib.import_module(module), name)
    params = inspect.signature(creator).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return tuple(
        sorted(
            p.name
            for p in params
            if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
            and p.name not in _VIEW_ONLY_KWARGS
            and p.name not in info.kwargs
        )
    )


class EnvRef(_Model):
    """A registered tlbench env id and the keyword arguments it is made with.

    >>> ref = EnvRef(env="tlbench/Maze-v0", kwargs={"reward_mode": "none"})
    >>> ref.label
    'tlbench/Maze-v0(reward_mode=none)'
    >>> env = ref.make()
    >>> env.unwrapped.reward_mode
    'none'
    """

    env: str = Field(description="a registered tlbench env id, e.g. 'tlbench/Maze-v0'")
    kwargs: dict[str, Any] = Field(
        default_factory=dict, description="keyword arguments of the env's constructor"
    )

    @field_validator("env")
    @classmethod
    def _registered(cls, env: str) -> str:
        ids = env_ids()
        if env not in ids:
            raise ValueError(
                f"unknown env id {env!r}{suggest(env, ids)} (`tlbench envs` lists them all)"
            )
        return env

    @field_validator("kwargs")
    @classmethod
    def _plain_data(cls, kwargs: dict[str, Any]) -> dict[str, Any]:
        _check_json_value(kwargs, "kwargs")
        return kwargs

    @model_validator(mode="after")
    def _known_kwargs(self) -> EnvRef:
        allowed = _settable_kwargs(self.env)
        if allowed is None:
            return self
        for name in self.kwargs:
            if name not in allowed:
                raise ValueError(
                    f"{self.env} takes no argument {name!r}{suggest(name, list(allowed))} "
                    f"(arguments a scenario may set: {', '.join(allowed) or 'none'})"
                )
        return self

    @property
    def version(self) -> int:
        """The ``N`` of the env id's ``-vN`` suffix.

        >>> EnvRef(env="tlbench/InverseMaze-v0").version
        0
        """
        match = _ENV_VERSION.search(self.env)
        return int(match.group(1)) if match else 0

    @property
    def label(self) -> str:
        """The env id with its kwargs, for one-line listings.

        >>> EnvRef(env="tlbench/MetaLabyrinth-v0", kwargs={"obs_mode": "grid"}).label
        'tlbench/MetaLabyrinth-v0(obs_mode=grid)'
        """
        args = ", ".join(f"{k}={v}" for k, v in self.kwargs.items())
        return f"{self.env}({args})" if args else self.env

    def with_kwargs(self, extra: dict[str, Any]) -> EnvRef:
        """This env with ``extra`` merged into its kwargs (``extra`` wins on a clash).

        >>> EnvRef(env="tlbench/Maze-v0", kwargs={"obs_mode": "lowdim"}).with_kwargs(
        ...     {"obs_mode": "pixels"}).label
        'tlbench/Maze-v0(obs_mode=pixels)'
        """
        if not extra:
            return self
        return self.model_copy(update={"kwargs": {**self.kwargs, **extra}})

    def make(self, **extra: Any) -> gym.Env[Any, Any]:
        """``gymnasium.make(env, **kwargs, **extra)``; ``extra`` may not override ``kwargs``.

        >>> env = EnvRef(env="tlbench/Maze-v0").make(render_mode="rgb_array")
        >>> _ = env.reset(seed=0)
        >>> env.render().shape
        (192, 192, 3)
        >>> pixels = EnvRef(env="tlbench/Maze-v0", kwargs={"obs_mode": "pixels"})
        >>> pixels.make(obs_mode="lowdim")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        TypeError: tlbench/Maze-v0: the scenario already sets obs_mode='pixels'; ...
        """
        clash = sorted(set(extra) & set(self.kwargs))
        if clash:
            fixed = ", ".join(f"{k}={self.kwargs[k]!r}" for k in clash)
            raise TypeError(
                f"{self.env}: the scenario already sets {fixed}; "
                "a run may add arguments but not change the scenario's"
            )
        return gym.make(self.env, **self.kwargs, **extra)

    def make_vec(self, num_envs: int) -> gym.vector.VectorEnv[Any, Any, Any]:
        """``num_envs`` copies of this env as one Gymnasium vector env with ``SAME_STEP`` autoreset.

        The env's own batched implementation when it has one (the grid worlds' numpy vector
        envs), else Gymnasium's ``SyncVectorEnv``. Sub-env ``i`` of ``reset(seed=s)`` is seeded
        ``s + i``. With ``SAME_STEP``, every ``step`` is a real transition of every sub-env: a
        sub-env that ends is reset in the same call, and its last observation is in
        ``info["final_obs"]`` (mask ``info["_final_obs"]``).

        >>> envs = EnvRef(env="tlbench/MetaLabyrinth-v0", kwargs={"obs_mode": "grid"}).make_vec(4)
        >>> envs.observation_space.shape, envs.metadata["autoreset_mode"].name
        ((4, 1, 8, 8), 'SAME_STEP')
        """
        mode = gym.vector.AutoresetMode.SAME_STEP
        if gym.spec(self.env).vector_entry_point is not None:
            return gym.make_vec(
                self.env,
                num_envs=num_envs,
                vectorization_mode="vector_entry_point",
                autoreset_mode=mode,
                **self.kwargs,
            )
        return gym.make_vec(
            self.env,
            num_envs=num_envs,
            vectorization_mode="sync",
            vector_kwargs={"autoreset_mode": mode},
            **self.kwargs,
        )


class Tier(_Model):
    """One protocol tier: step budgets, evaluation schedule and seeds.

    >>> tier = Tier(source_steps=2000, target_steps=2000, eval_every=500, eval_episodes=5,
    ...             source_seeds=2, target_seeds=2, eval_policy="greedy")
    >>> tier.checkpoints
    [0, 500, 1000, 1500, 2000]
    >>> tier.runs
    8
    """

    source_steps: int = Field(ge=0, description="env steps of training on each source env")
    target_steps: int = Field(gt=0, description="env steps of training on the target env")
    eval_every: int = Field(gt=0, description="evaluate every this many target steps")
    eval_episodes: int = Field(gt=0, description="episodes per evaluation")
    source_seeds: int = Field(gt=0, description="source seeds: base models trained on the sources")
    target_seeds: int = Field(gt=0, description="target seeds per source seed")
    eval_policy: EvalPolicy = Field(
        description="how the runner acts in evaluation episodes: 'greedy' (the agent's "
        "predict(deterministic=True)), 'sampled' (predict(deterministic=False)) or "
        "'epsilon-greedy' (the greedy action, replaced with probability eval_epsilon by a "
        "uniformly random action that the runner draws from its own seeded generator)"
    )
    eval_epsilon: float | None = Field(
        default=None,
        gt=0.0,
        le=1.0,
        description="the probability of a random action; only (and required) with "
        "eval_policy epsilon-greedy",
    )
    num_envs: int = Field(
        default=1,
        ge=1,
        description="sub-envs of the vector env the agent trains on (target and every source); "
        "1 hands the agent a single env. The budgets count env steps over all sub-envs",
    )
    env_kwargs: dict[str, Any] = Field(
        default_factory=dict,
        description="keyword arguments this tier gives every env of the scenario, on top of "
        "(and winning over) each env's own kwargs, e.g. {obs_mode: pixels}",
    )

    @field_validator("env_kwargs")
    @classmethod
    def _plain_data(cls, kwargs: dict[str, Any]) -> dict[str, Any]:
        _check_json_value(kwargs, "env_kwargs")
        return kwargs

    @model_serializer(mode="wrap")
    def _omit_defaults(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Keys at their defaults are left out (a tier without env_kwargs serialises as it did
        # before the key existed), so the content and fingerprint of scenario files that do not
        # use them are unchanged.
        data: dict[str, Any] = handler(self)
        if not self.env_kwargs:
            data.pop("env_kwargs", None)
        if self.eval_epsilon is None:
            data.pop("eval_epsilon", None)
        if self.num_envs == 1:
            data.pop("num_envs", None)
        return data

    @model_validator(mode="after")
    def _epsilon_with_its_policy(self) -> Tier:
        if self.eval_policy == "epsilon-greedy" and self.eval_epsilon is None:
            raise ValueError(
                "eval_policy epsilon-greedy needs eval_epsilon, the probability of a random "
                "action (the CRAR papers use 0.1)"
            )
        if self.eval_policy != "epsilon-greedy" and self.eval_epsilon is not None:
            raise ValueError(
                f"eval_epsilon ({self.eval_epsilon}) is only read with eval_policy "
                f"epsilon-greedy, not {self.eval_policy!r}: remove it or change the policy"
            )
        return self

    @model_validator(mode="after")
    def _whole_vector_steps(self) -> Tier:
        n = self.num_envs
        if n == 1:
            return self
        for name in ("source_steps", "target_steps", "eval_every"):
            value = getattr(self, name)
            if value % n:
                raise ValueError(
                    f"{name} ({value}) must be a multiple of num_envs ({n}): a vector env steps "
                    f"all {n} sub-envs at once, and budgets and evaluations fall on exact step "
                    f"counts; e.g. {name}: {value - value % n or n}"
                )
        return self

    @property
    def evaluation(self) -> str:
        """The evaluation policy in words, e.g. ``'epsilon-greedy (0.1)'``.

        >>> Tier(source_steps=0, target_steps=10, eval_every=5, eval_episodes=1, source_seeds=1,
        ...      target_seeds=1, eval_policy="epsilon-greedy", eval_epsilon=0.1).evaluation
        'epsilon-greedy (0.1)'
        """
        if self.eval_policy == "epsilon-greedy":
            return f"epsilon-greedy ({self.eval_epsilon:g})"
        return self.eval_policy

    @model_validator(mode="after")
    def _eval_every_divides(self) -> Tier:
        if self.target_steps % self.eval_every:
            top = min(self.eval_every, self.target_steps)
            divisor = next(d for d in range(top, 0, -1) if self.target_steps % d == 0)
            raise ValueError(
                f"eval_every ({self.eval_every}) must divide target_steps ({self.target_steps}) "
                f"so that the last evaluation falls on the last step; e.g. {divisor}"
            )
        return self

    @property
    def checkpoints(self) -> list[int]:
        """Target steps at which the runner evaluates: ``0, eval_every, ..., target_steps``."""
        return list(range(0, self.target_steps + 1, self.eval_every))

    @property
    def runs(self) -> int:
        """Target runs of the tier: source seeds x target seeds x 2 conditions (transfer and the
        paired scratch control)."""
        return self.source_seeds * self.target_seeds * 2


class Reference(_Model):
    """A publication the scenario reproduces or takes its budgets from."""

    title: str = Field(min_length=1)
    authors: str = Field(min_length=1)
    year: int = Field(ge=1900, le=2100)
    section: str | None = None
    url: str | None = None


class Normalization(_Model):
    """Returns that map to 0 (``random``) and 1 (``reference``) on the normalised scale.

    >>> Normalization(random=-0.5, reference=1.0).normalize(0.25)
    0.5
    """

    random: float = Field(description="expected return of a uniformly random policy")
    reference: float = Field(description="return of a good (e.g. optimal) policy")

    @model_validator(mode="after")
    def _ordered(self) -> Normalization:
        if not self.reference > self.random:
            raise ValueError(
                f"reference ({self.reference}) must be greater than random ({self.random})"
            )
        return self

    def normalize(self, value: float) -> float:
        """``(value - random) / (reference - random)``."""
        return (value - self.random) / (self.reference - self.random)


class Scenario(_Model):
    """A transfer scenario: source envs, a target env, how it is scored and its protocol tiers.

    ``normalization`` and ``success_threshold`` are in units of the episode return, so only
    return-scored scenarios have them: a file of an ``embedding-alignment`` scenario leaves them
    out, and reading them there raises :class:`ScenarioError`.

    >>> from tlbench.scenarios import load_scenario
    >>> s = load_scenario("maze/inverse")
    >>> s.target.env, s.tier("smoke").target_steps, len(s.fingerprint)
    ('tlbench/InverseMaze-v0', 2000, 16)
    """

    id: str = Field(description="the file's path under tasks/ without .yaml, e.g. 'maze/inverse'")
    version: int = Field(ge=1, description="bumped whenever the protocol changes")
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    references: list[Reference]
    sources: list[EnvRef] = Field(min_length=1)
    target: EnvRef
    score: ScoreName = Field(
        default="return",
        description="'return' (episode return) or 'embedding-alignment' (the transferred "
        "encoder's distance to the base encoder on the same states; no returns)",
    )
    success_threshold_: float | None = Field(default=None, alias="success_threshold")
    normalization_: Normalization | None = Field(default=None, alias="normalization")
    tiers: dict[TierName, Tier]

    _path: Path | None = PrivateAttr(default=None)

    @field_validator("id")
    @classmethod
    def _id_format(cls, value: str) -> str:
        if not _ID_PATTERN.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a scenario id: use lowercase letters, digits, '-' and '_' "
                "in '/'-separated parts, e.g. 'maze/inverse'"
            )
        return value

    @field_validator("tiers")
    @classmethod
    def _all_tiers(cls, tiers: dict[str, Tier]) -> dict[str, Tier]:
        missing = [name for name in TIER_NAMES if name not in tiers]
        if missing:
            raise ValueError(
                f"missing tier(s) {', '.join(missing)}: every scenario defines "
                f"{', '.join(TIER_NAMES)}"
            )
        return {name: tiers[name] for name in TIER_NAMES}

    @field_validator("tiers")
    @classmethod
    def _tier_env_kwargs_known(
        cls, tiers: dict[str, Tier], info: ValidationInfo
    ) -> dict[str, Tier]:
        envs: list[EnvRef] = [*info.data.get("sources", [])]
        if "target" in info.data:
            envs.append(info.data["target"])
        for name, tier in tiers.items():
            for ref in envs:
                allowed = _settable_kwargs(ref.env)
                if allowed is None:
                    continue
                for key in tier.env_kwargs:
                    if key not in allowed:
                        raise ValueError(
                            f"{name}.env_kwargs: {ref.env} takes no argument {key!r}"
                            f"{suggest(key, list(allowed))} (arguments a scenario may set: "
                            f"{', '.join(allowed) or 'none'})"
                        )
        return tiers

    @model_validator(mode="after")
    def _scoring(self) -> Scenario:
        norm, threshold = self.normalization_, self.success_threshold_
        if self.score == "return":
            missing = [
                key
                for key, value in (("success_threshold", threshold), ("normalization", norm))
                if value is None
            ]
            if missing:
                raise ValueError(
                    f"a return-scored scenario needs {' and '.join(missing)} "
                    "(in units of the episode return)"
                )
            assert norm is not None and threshold is not None
            if not norm.random < threshold <= norm.reference:
                raise ValueError(
                    f"success_threshold ({threshold}) must lie above normalization.random "
                    f"({norm.random}) and at most at normalization.reference ({norm.reference})"
                )
        else:
            given = [
                key
                for key, value in (("success_threshold", threshold), ("normalization", norm))
                if value is not None
            ]
            if given:
                raise ValueError(
                    f"score {self.score!r} is not a return: remove {' and '.join(given)} "
                    "(they are in units of the episode return)"
                )
        return self

    @property
    def path(self) -> Path | None:
        """The file the scenario was loaded from (``None`` when built in Python)."""
        return self._path

    def _where(self) -> str:
        return display_path(self._path) if self._path is not None else f"scenario {self.id!r}"

    @property
    def normalization(self) -> Normalization:
        """Random and reference returns of the target (return-scored scenarios only)."""
        if self.normalization_ is None:
            raise ScenarioError(
                f"{self._where()}: score is {self.score!r}, so the scenario has no return "
                "normalization"
            )
        return self.normalization_

    @property
    def success_threshold(self) -> float:
        """Final return a target run must reach to count as a successful transfer
        (return-scored scenarios only)."""
        if self.success_threshold_ is None:
            raise ScenarioError(
                f"{self._where()}: score is {self.score!r}, so the scenario has no return "
                "success threshold"
            )
        return self.success_threshold_

    @property
    def envs(self) -> list[EnvRef]:
        """Every env the scenario uses: the sources, then the target."""
        return [*self.sources, self.target]

    def sources_for(self, tier: str) -> list[EnvRef]:
        """The source envs as tier ``tier`` makes them: with the tier's ``env_kwargs`` merged in.

        >>> from tlbench.scenarios import load_scenario
        >>> s = load_scenario("bullet/invpend/from-invdbpend")
        >>> [ref.label for ref in s.sources_for("smoke")]
        ['tlbench/InvertedDoublePendulumSwingup-v0']
        >>> [ref.label for ref in s.sources_for("paper")]
        ['tlbench/InvertedDoublePendulumSwingup-v0(obs_mode=pixels, action_repeat=2)']
        """
        extra = self.tier(tier).env_kwargs
        return [ref.with_kwargs(extra) for ref in self.sources]

    def target_for(self, tier: str) -> EnvRef:
        """The target env as tier ``tier`` makes it: with the tier's ``env_kwargs`` merged in.

        A run of a tier makes its envs from :meth:`sources_for` and this method, not from
        :attr:`sources` and :attr:`target`, which lack the tier's ``env_kwargs`` (the paper tier
        of the ``bullet/`` scenarios sets pixel observations and action repeat 2 there).
        """
        return self.target.with_kwargs(self.tier(tier).env_kwargs)

    def tier(self, name: str) -> Tier:
        """The protocol tier ``name`` (``smoke``, ``standard`` or ``paper``).

        >>> from tlbench.scenarios import load_scenario
        >>> try:
        ...     load_scenario("maze/inverse").tier("smok")
        ... except ScenarioError as exc:
        ...     print(str(exc).split(": ", 1)[1])  # after the file's path
        unknown tier 'smok'; did you mean 'smoke'? (tiers: smoke, standard, paper)
        """
        if name not in self.tiers:
            raise ScenarioError(
                f"{self._where()}: unknown tier {name!r}{suggest(name, list(TIER_NAMES))} "
                f"(tiers: {', '.join(TIER_NAMES)})"
            )
        return self.tiers[name]

    def content(self) -> dict[str, Any]:
        """The scenario as plain JSON data, with the keys of the file."""
        return self.model_dump(mode="json", by_alias=True)

    @property
    def fingerprint(self) -> str:
        """First 16 hex digits of the SHA-256 of the scenario's content and env versions.

        The hashed text is the canonical JSON (sorted keys, no spaces) of the validated content
        (:meth:`content`: every field, so comments and layout of the file do not count), the
        ``-vN`` version of each env id and :data:`FINGERPRINT_FORMAT`. Any change of a field
        changes it; results carry it so that numbers from different protocols are never mixed.
        """
        payload = {
            "format": FINGERPRINT_FORMAT,
            "scenario": self.content(),
            "env_versions": {ref.env: ref.version for ref in self.envs},
        }
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def check_envs(self) -> None:
        """Make (and close) every env once, so that a bad kwarg value fails now, not mid-run.

        Envs are made as each tier makes them (:meth:`sources_for`, :meth:`target_for`), once
        per distinct ``env_kwargs`` of the tiers.

        >>> from tlbench.scenarios import load_scenario
        >>> load_scenario("labyrinth/inverse-grid").check_envs()
        """
        checked: set[str] = set()
        for name, tier in self.tiers.items():
            variant = json.dumps(tier.env_kwargs, sort_keys=True)
            if variant in checked:
                continue
            checked.add(variant)
            refs = [*self.sources_for(name), self.target_for(name)]
            which = f" (tier {name}'s env_kwargs)" if tier.env_kwargs else ""
            for i, ref in enumerate(refs):
                key = f"sources[{i}]" if i < len(self.sources) else "target"
                try:
                    env = ref.make()
                except Exception as exc:  # any failure of the env's constructor
                    raise ScenarioError(
                        f"{self._where()}: {key}{which}: making {ref.label} failed: {exc}"
                    ) from exc
                env.close()
