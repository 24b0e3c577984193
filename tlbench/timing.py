"""Helpers shared by the scripts in ``benchmarks/`` (and ``scripts/``).

A benchmark measures several *cases* (anything with a ``run()`` returning a rate), each a few
times, round-robin, and reports the best run of each case next to a header that says where it
ran. Interleaving means a burst of load on the machine slows one run of several cases rather than
every run of one case, and the best of the runs is then a fair figure for each.
"""

from __future__ import annotations

import argparse
import os
import platform
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from tlbench.system import cpu_model, library_versions


class Case(Protocol):
    """Something timed: one call of ``run`` measures it once and returns a rate."""

    def run(self) -> float: ...


@dataclass(frozen=True)
class Timing:
    """Rates (per second) of the timed runs of one case."""

    rates: tuple[float, ...]

    @property
    def best(self) -> float:
        return max(self.rates)

    @property
    def spread(self) -> float:
        """Worst run as a fraction of the best (1.0: no noise between runs)."""
        return min(self.rates) / max(self.rates)


def time_cases(cases: Sequence[Case], repeats: int) -> list[Timing]:
    """Run every case ``repeats`` times, round-robin; the rates of each case.

    >>> class Constant:
    ...     def run(self) -> float:
    ...         return 2.0
    >>> [t.best for t in time_cases([Constant(), Constant()], 3)]
    [2.0, 2.0]
    """
    rates: list[list[float]] = [[] for _ in cases]
    for _ in range(repeats):
        for case, case_rates in zip(cases, rates, strict=True):
            case_rates.append(case.run())
    return [Timing(tuple(r)) for r in rates]


def header(title: str, libraries: Iterable[str], settings: str) -> str:
    """The lines a benchmark prints first: title, versions, CPU and its settings."""
    versions = " | ".join(f"{name} {v}" for name, v in library_versions(libraries).items())
    cpu = f"cpu: {cpu_model()} ({os.cpu_count()} logical cores), {platform.system()}"
    return "\n".join([title, versions, cpu, f"settings: {settings}"])


def require_positive(
    parser: argparse.ArgumentParser, args: argparse.Namespace, *names: str
) -> None:
    """Exit through ``parser.error`` (status 2, the usage line and ``--name must be at least 1``)
    for the first of the integer options ``names`` (their ``dest``) that is below 1."""
    for name in names:
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
