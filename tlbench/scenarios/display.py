"""Plain-text views of scenarios for ``tlbench list`` and ``tlbench show``.

Plain text rather than rich tables, so that the output never wraps or truncates when it goes to
a pipe or a file.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from tlbench.scenarios.schema import TIER_NAMES, Scenario, display_path

_TIER_COLUMNS = (
    ("source steps", "source_steps"),
    ("target steps", "target_steps"),
    ("eval every", "eval_every"),
    ("eval episodes", "eval_episodes"),
    ("source seeds", "source_seeds"),
    ("target seeds", "target_seeds"),
    ("runs", "runs"),
    ("envs", "num_envs"),
)


def columns(rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> list[str]:
    """``rows`` as lines of aligned columns, two spaces apart; indices in ``right`` align right.

    >>> columns([("a", "1"), ("bbb", "22")], right=[1])
    ['a     1', 'bbb  22']
    """
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]


def list_lines(scenarios: Sequence[Scenario]) -> list[str]:
    """One line per scenario: id, title, sources -> target, score.

    >>> from tlbench.scenarios import load_scenario
    >>> print(list_lines([load_scenario("maze/inverse")])[0])
    maze/inverse  Maze: normal to inverse  tlbench/Maze-v0 -> tlbench/InverseMaze-v0  return
    """
    return columns(
        [
            (
                s.id,
                s.title,
                f"{', '.join(ref.label for ref in s.sources)} -> {s.target.label}",
                s.score,
            )
            for s in scenarios
        ]
    )


def tier_table(scenario: Scenario) -> list[str]:
    """The tiers of ``scenario`` as an aligned table with a header line.

    >>> from tlbench.scenarios import load_scenario
    >>> header, smoke, standard, paper = tier_table(load_scenario("maze/inverse"))
    >>> header.split()[:5]
    ['tier', 'source', 'steps', 'target', 'steps']
    >>> smoke.split()
    ['smoke', '2,000', '2,000', '500', '5', '2', '2', '8', '1', 'epsilon-greedy', '(0.1)']
    """
    rows = [("tier", *(title for title, _ in _TIER_COLUMNS), "evaluation policy")]
    for name in TIER_NAMES:
        tier = scenario.tier(name)
        numbers = (f"{getattr(tier, attr):,}" for _, attr in _TIER_COLUMNS)
        rows.append((name, *numbers, tier.evaluation))
    return columns(rows, right=range(1, len(_TIER_COLUMNS) + 1))


def describe(scenario: Scenario) -> str:
    """The whole protocol of ``scenario`` as text (what ``tlbench show`` prints)."""
    s = scenario
    lines = [f"{s.id} (version {s.version}): {s.title}", ""]
    lines += textwrap.wrap(s.description, width=100)
    lines += ["", "references:"]
    for ref in s.references:
        section = f", section {ref.section}" if ref.section else ""
        url = f", {ref.url}" if ref.url else ""
        lines.append(f"  - {ref.authors} ({ref.year}). {ref.title}{section}{url}")
    if not s.references:
        lines.append("  (none)")
    fields = [("sources:", ", ".join(ref.label for ref in s.sources)), ("target:", s.target.label)]
    fields.append(("score:", s.score))
    if s.score == "return":
        norm = s.normalization
        fields.append(("success threshold:", f"{s.success_threshold:g} (final return)"))
        fields.append(("normalization:", f"random {norm.random:g}, reference {norm.reference:g}"))
    else:
        fields.append(("normalization:", "none (not scored by return)"))
    fields.append(("fingerprint:", s.fingerprint))
    if s.path is not None:
        fields.append(("file:", display_path(s.path)))
    lines += ["", *columns(fields), "", *tier_table(s)]
    lines.append("runs: source seeds x target seeds x 2 conditions (transfer, paired scratch)")
    overrides = [(name, tier.env_kwargs) for name, tier in s.tiers.items() if tier.env_kwargs]
    if overrides:
        lines.append("env kwargs of a tier, given to every env on top of its own:")
        for name, kwargs in overrides:
            args = ", ".join(f"{k}={v}" for k, v in kwargs.items())
            lines.append(f"  - {name}: {args}")
    return "\n".join(lines)
