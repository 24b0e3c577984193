"""Generate ``docs/envs.md`` and its pictures ``docs/img/*.png`` from tlbench's env registry.

Run from the repository root::

    .venv/bin/python scripts/make_env_docs.py           # (re)write docs/envs.md and docs/img/
    .venv/bin/python scripts/make_env_docs.py --check   # exit 1 if docs/envs.md is out of date

The page lists every id of :data:`tlbench.envs.ENVS` (description, episode limit, kwargs, spaces),
groups the ids by env class (a *family*: a grid world and its inverse twin, the PyBullet walkers,
the swing-up pendula), shows each family's members side by side after ``reset(seed=0)`` as the
``rgb_array`` render (and, for the grid worlds, as the low-dimensional observation too), and
quotes the sections of the class docstring that describe the task.

``--check`` compares the markdown only (and that every picture it references exists); the PNGs
are not compared byte for byte.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import inspect
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from PIL import Image

import tlbench
from tlbench.envs import ENVS, EnvInfo
from tlbench.envs.gridworld import GridWorldEnv, to_rgb

ROOT = Path(__file__).resolve().parents[1]
DOCS_DIR = ROOT / "docs"
MARKDOWN = DOCS_DIR / "envs.md"
IMG_DIR = DOCS_DIR / "img"
COMMAND = ".venv/bin/python scripts/make_env_docs.py"
SEED = 0
RENDER_SIDE = 192  # pixels; the low-dim observations are scaled up to the render's size

#: docstring sections quoted on the page, in this order
SECTIONS = (
    "Description",
    "Action Space",
    "Observation Space",
    "Rewards",
    "Starting State",
    "Episode End",
)


@dataclass(frozen=True)
class Picture:
    """One PNG of the page: where it goes and what it shows."""

    filename: str
    image: np.ndarray  # (H, W, 3) uint8


@dataclass(frozen=True)
class Family:
    """The ids registered with one env class (normal and inverse variants)."""

    cls: type[gym.Env[Any, Any]]
    members: tuple[EnvInfo, ...]

    @property
    def name(self) -> str:
        return self.cls.__name__.removesuffix("Env")


# -- registry -----------------------------------------------------------------------------------
def load_class(entry_point: str) -> type[gym.Env[Any, Any]]:
    """The class named by an entry point ``"module:Class"``."""
    module_name, _, attr = entry_point.partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    assert isinstance(cls, type)
    return cls


def families(envs: Sequence[EnvInfo]) -> list[Family]:
    """The ids grouped by entry point, in registration order."""
    groups: dict[str, list[EnvInfo]] = {}
    for info in envs:
        groups.setdefault(info.entry_point, []).append(info)
    return [Family(load_class(ep), tuple(members)) for ep, members in groups.items()]


def short_name(env_id: str) -> str:
    """``"tlbench/Maze-v0"`` -> ``"Maze-v0"`` (used for file names)."""
    return env_id.rsplit("/", 1)[-1]


def extra_obs_modes(env: gym.Env[Any, Any]) -> tuple[str, ...]:
    """Observation modes other than the rendered pixel one (a grid world's low-dim views)."""
    base = env.unwrapped
    if not isinstance(base, GridWorldEnv):
        return ()
    return tuple(m for m in base.OBS_MODES if m != base.RENDER_MODE_OBS)


def describe_space(space: gym.Space[Any]) -> str:
    """A short, version-independent text for an action or observation space."""
    if isinstance(space, spaces.Discrete):
        return f"Discrete({int(space.n)})"
    if isinstance(space, spaces.Box):
        low, high = float(np.min(space.low)), float(np.max(space.high))
        return f"Box({low:g}, {high:g}, {tuple(space.shape)}, {np.dtype(space.dtype).name})"
    return str(space)


# -- pictures -----------------------------------------------------------------------------------
def pictures_of(info: EnvInfo) -> list[Picture]:
    """The render after ``reset(seed=SEED)`` and the low-dim observation(s) of the same state."""
    env = gym.make(info.id, render_mode="rgb_array")
    try:
        env.reset(seed=SEED)
        frame = env.render()
        assert isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and frame.ndim == 3
        pictures = [Picture(f"{short_name(info.id)}.png", frame)]
        base = env.unwrapped
        for mode in extra_obs_modes(env):
            assert isinstance(base, GridWorldEnv)
            obs = base.render_observation(obs_mode=mode)
            image = to_rgb(obs, scale=max(1, RENDER_SIDE // obs.shape[-1]))
            pictures.append(Picture(f"{short_name(info.id)}-{mode}.png", image))
        return pictures
    finally:
        env.close()


def picture_names(info: EnvInfo) -> list[tuple[str, str]]:
    """``(what it shows, file name)`` of each picture of ``info``, without rendering anything."""
    env = gym.make(info.id)
    try:
        modes = extra_obs_modes(env)
    finally:
        env.close()
    rows = [("render", f"{short_name(info.id)}.png")]
    rows += [(f"obs_mode={mode}", f"{short_name(info.id)}-{mode}.png") for mode in modes]
    return rows


# -- docstrings ---------------------------------------------------------------------------------
_ROLE = re.compile(r":(?:class|meth|func|attr|data|mod|exc):`~?([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")


def rst_inline_to_md(text: str) -> str:
    """Inline reStructuredText (``code``, :class:`X`) as Markdown."""
    text = _ROLE.sub(lambda m: f"`{m.group(1).rsplit('.', 1)[-1]}`", text)
    return _LITERAL.sub(r"`\1`", text)


def docstring_sections(cls: type) -> dict[str, list[str]]:
    """The ``## Name`` sections of a class docstring (numpydoc/Gymnasium style), as lines."""
    doc = inspect.getdoc(cls) or ""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in doc.splitlines():
        if line.startswith("## "):
            current = sections.setdefault(line[3:].strip(), [])
        elif line.startswith(">>>"):
            current = None  # the doctest at the end belongs to no section
        elif current is not None:
            current.append(line)
    return sections


def section_to_md(lines: list[str]) -> str:
    """A docstring section as Markdown: inline markup converted, ``::`` blocks fenced."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.rstrip().endswith("::"):
            out.append(rst_inline_to_md(line.rstrip()[:-1]))
            i += 1
            while i < len(lines) and not lines[i].strip():
                i += 1
            block: list[str] = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith(" ")):
                block.append(lines[i])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            indent = min(len(b) - len(b.lstrip()) for b in block if b.strip()) if block else 0
            out += ["", "```", *(b[indent:] for b in block), "```", ""]
            continue
        out.append(rst_inline_to_md(line))
        i += 1
    text = "\n".join(out).strip("\n")
    return re.sub(r"\n{3,}", "\n\n", text)


# -- the page -----------------------------------------------------------------------------------
def fmt_kwargs(kwargs: dict[str, Any]) -> str:
    return ", ".join(f"`{k}={v!r}`" for k, v in kwargs.items()) or "-"


def id_table(members: Sequence[EnvInfo]) -> list[str]:
    lines = [
        "| id | description | max episode steps | kwargs | observation space | action space |",
        "|---|---|---|---|---|---|",
    ]
    for info in members:
        env = gym.make(info.id)
        try:
            obs_space = describe_space(env.observation_space)
            act_space = describe_space(env.action_space)
        finally:
            env.close()
        steps = "-" if info.max_episode_steps is None else str(info.max_episode_steps)
        lines.append(
            f"| `{info.id}` | {info.description} | {steps} | {fmt_kwargs(info.kwargs)} "
            f"| `{obs_space}` | `{act_space}` |"
        )
    return lines


def pictures_caption(family: Family) -> str:
    """What the pictures of ``family`` show."""
    if issubclass(family.cls, GridWorldEnv):
        return (
            f"Each column is one id after `reset(seed={SEED})`: the same hidden state, so the "
            'columns differ only in how it is drawn. The render is `render_mode="rgb_array"` '
            "(the 48x48 pixel view scaled 4x, values -1..1 as black..white); the low-dimensional "
            "observation is drawn the same way, one block per cell."
        )
    return (
        f'Each column is one id after `reset(seed={SEED})`, drawn by `render_mode="rgb_array"`: '
        "the view of the camera of the pixel observations at 256x256 (an observation with "
        '`obs_mode="pixels"` is the same view at 64x64).'
    )


def picture_table(family: Family) -> list[str]:
    """A Markdown table with one column per id and one row per picture kind."""
    columns = [picture_names(info) for info in family.members]
    header = "| | " + " | ".join(f"`{info.id}`" for info in family.members) + " |"
    lines = [header, "|---|" + "---|" * len(family.members)]
    for row, (what, _) in enumerate(columns[0]):
        label = "render (pixel view)" if what == "render" else f"`{what}` observation"
        cells = [
            f"![{info.id} {what}](img/{column[row][1]})"
            for info, column in zip(family.members, columns, strict=True)
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def render_markdown(envs: Sequence[EnvInfo] = ENVS) -> str:
    """The whole of ``docs/envs.md``."""
    fams = families(envs)
    lines = [
        "# tlbench environments",
        "",
        "<!-- Generated file: do not edit by hand. -->",
        "Generated by `scripts/make_env_docs.py` from the registry `tlbench.envs.ENVS` and the "
        f"env classes' docstrings; regenerate with `{COMMAND}` (and check it is current with "
        f"`{COMMAND} --check`).",
        "",
        f"`import tlbench` registers {len(envs)} ids (tlbench {tlbench.__version__}). Make one "
        "with `gymnasium.make(id)`; the grid worlds also make a batch with "
        '`gymnasium.make_vec(id, num_envs=N, vectorization_mode="vector_entry_point")`.',
        "",
        "| id | family | description | max episode steps |",
        "|---|---|---|---|",
    ]
    for fam in fams:
        for info in fam.members:
            steps = "-" if info.max_episode_steps is None else str(info.max_episode_steps)
            anchor = fam.name.lower()
            lines.append(
                f"| `{info.id}` | [{fam.name}](#{anchor}) | {info.description} | {steps} |"
            )

    for fam in fams:
        doc = inspect.getdoc(fam.cls) or ""
        summary = doc.splitlines()[0] if doc else ""
        sections = docstring_sections(fam.cls)
        lines += [
            "",
            f"## {fam.name}",
            "",
            f"{rst_inline_to_md(summary)} (class `{fam.cls.__module__}.{fam.cls.__name__}`)",
            "",
        ]
        lines += id_table(fam.members)
        lines += ["", "### Pictures", "", pictures_caption(fam), ""]
        lines += picture_table(fam)
        for title in SECTIONS:
            if title in sections:
                lines += ["", f"### {title}", "", section_to_md(sections[title])]
    return "\n".join(lines) + "\n"


def write_pictures(envs: Sequence[EnvInfo] = ENVS, img_dir: Path = IMG_DIR) -> list[Path]:
    """Render and save every picture; returns the paths written."""
    img_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for info in envs:
        for picture in pictures_of(info):
            path = img_dir / picture.filename
            Image.fromarray(picture.image).save(path, optimize=True)
            written.append(path)
    return written


def referenced_images(markdown: str) -> list[str]:
    return re.findall(r"\]\((img/[^)]+)\)", markdown)


def main(argv: Sequence[str] | None = None) -> int:
    """Write the docs (or, with ``--check``, say whether they are current); the exit status."""
    parser = argparse.ArgumentParser(description="Generate docs/envs.md and docs/img/*.png.")
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if docs/envs.md differs from what would be generated",
    )
    args = parser.parse_args(argv)
    markdown = render_markdown()

    if args.check:
        current = MARKDOWN.read_text(encoding="utf-8") if MARKDOWN.exists() else ""
        missing = [name for name in referenced_images(markdown) if not (DOCS_DIR / name).exists()]
        if current != markdown:
            diff = difflib.unified_diff(
                current.splitlines(),
                markdown.splitlines(),
                "docs/envs.md",
                "generated",
                lineterm="",
            )
            print("\n".join(list(diff)[:60]), file=sys.stderr)
            print(f"docs/envs.md is out of date; regenerate with `{COMMAND}`", file=sys.stderr)
            return 1
        if missing:
            print(f"missing pictures {missing}; regenerate with `{COMMAND}`", file=sys.stderr)
            return 1
        print("docs/envs.md is up to date")
        return 0

    written = write_pictures()
    MARKDOWN.parent.mkdir(parents=True, exist_ok=True)
    MARKDOWN.write_text(markdown, encoding="utf-8")
    img = IMG_DIR.relative_to(ROOT)
    print(f"wrote {MARKDOWN.relative_to(ROOT)} and {len(written)} pictures in {img}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
