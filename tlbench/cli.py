"""The ``tlbench`` command line."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console

app = typer.Typer(
    name="tlbench",
    help="A Gymnasium-compatible benchmark suite for transfer learning in deep RL.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)


@app.callback()
def _root() -> None:
    """A Gymnasium-compatible benchmark suite for transfer learning in deep RL."""


@app.command("envs")
def envs_command() -> None:
    """List every registered environment id with a one-line description."""
    from tlbench.envs import ENVS

    width = max(len(info.id) for info in ENVS) + 2
    typer.echo(f"{'env id':<{width}}{'steps':>6}  description")
    for info in ENVS:
        steps = str(info.max_episode_steps or "-")
        typer.echo(f"{info.id:<{width}}{steps:>6}  {info.description}")


@app.command("list")
def list_command() -> None:
    """List every scenario: id, title, sources -> target and how it is scored."""
    from tlbench.scenarios import ScenarioError, load_scenario, scenario_ids
    from tlbench.scenarios.display import list_lines

    try:
        ids = scenario_ids()
    except ScenarioError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    scenarios, broken = [], []
    for scenario_id in ids:
        try:
            scenarios.append(load_scenario(scenario_id))
        except ScenarioError as exc:
            broken.append(str(exc))
    for line in list_lines(scenarios):
        typer.echo(line)
    for message in broken:
        typer.echo(f"error: {message}", err=True)
    if broken:
        raise typer.Exit(1)


@app.command("show")
def show_command(
    scenario: str = typer.Argument(..., help="scenario id (see `tlbench list`) or a .yaml file"),
) -> None:
    """Print a scenario's whole protocol: envs, scoring, fingerprint and every tier's budget."""
    from tlbench.scenarios import ScenarioError, load_scenario
    from tlbench.scenarios.display import describe

    try:
        spec = load_scenario(scenario)
        spec.check_envs()
    except ScenarioError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(describe(spec))


@app.command("evaluate")
def evaluate_command(
    agent: str = typer.Argument(..., help="path/to/agent.py[:ClassName] or an agent folder"),
    scenario: str = typer.Option(..., "--scenario", "-s", help="scenario id (see `tlbench list`)"),
    tier: str = typer.Option("smoke", "--tier", "-t", help="smoke, standard or paper"),
    out: Path = typer.Option(Path("runs/evaluation"), "--out", "-o", help="output folder"),
    workers: int = typer.Option(
        max(1, os.cpu_count() or 1),
        "--workers",
        "-w",
        help="runs in parallel, each in its own process",
    ),
    in_process: bool = typer.Option(False, "--in-process", help="run in this process (debugging)"),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda"),
    kwarg: list[str] = typer.Option([], "--kwarg", "-k", help="agent keyword argument name=value"),
    run_timeout: float | None = typer.Option(None, help="kill a run after this many seconds"),
    plot: bool = typer.Option(
        True, help="write the learning-curve plot (and, for 2-D embeddings, the embedding plot)"
    ),
) -> None:
    """Evaluate an agent on a scenario tier: source training, transfer, target training,
    evaluation at fixed steps and a paired scratch control; then print the transfer metrics."""
    from tlbench.agents.loader import AgentLoadError, AgentRef, parse_kwargs
    from tlbench.runner.evaluate import EvaluationError, evaluate
    from tlbench.scenarios import ScenarioError, load_scenario

    try:
        ref = AgentRef.parse(agent, parse_kwargs(kwarg))
        spec = load_scenario(scenario)
        spec.tier(tier)
    except (AgentLoadError, ScenarioError) as exc:
        _fail(str(exc))
    command = "tlbench evaluate " + " ".join(shlex.quote(a) for a in sys.argv[2:])
    with _Progress() as bars:
        try:
            result = evaluate(
                ref,
                spec,
                tier,
                out,
                workers=0 if in_process else workers,
                device=device,
                run_timeout=run_timeout,
                command=command,
                on_plan=bars.plan,
                on_progress=bars.progress,
                on_start=bars.start,
                on_done=bars.done,
            )
        except (AgentLoadError, ScenarioError, EvaluationError, ValueError) as exc:
            _fail(str(exc))
    console.print(
        f"{len(result.results['runs'])} runs ({result.executed} executed now, the rest resumed "
        f"from {out}); results: {result.results_path}"
    )
    if result.provenance:
        err_console.print(
            "[yellow]note:[/yellow] runs resumed from earlier commands were made with other "
            "versions or on another device than this command (each run's own are in "
            "results.json):"
        )
        for line in result.provenance:
            err_console.print(f"  {line}")
    from tlbench.report import metrics_table, plot_curves, plot_embeddings

    if result.summary is not None or result.alignment is not None:
        title = f"{spec.id} ({tier} tier), {ref.load_class().__name__}"
        if spec.score != "return":
            title += f": scored by {spec.score}"
        console.print(metrics_table(result.summary, title, result.alignment))
    if plot and result.summary is not None:
        path = plot_curves(result.results, out / "curves.png")
        console.print(f"learning curves: {path}")
    if plot and result.probes is not None:
        drawn = plot_embeddings(result.results, out, result.probes, out / "embeddings.png")
        if drawn is not None:
            console.print(f"embeddings: {drawn}")
    if result.failed:
        err_console.print(f"[red]{len(result.failed)} run(s) failed[/red]; the others are kept:")
        for record in result.failed:
            err_console.print(
                f"  {record['label']}: {record.get('error')} (log: {record.get('log')})"
            )
        raise typer.Exit(1)


@app.command("submit")
def submit_command(
    results: Path = typer.Argument(..., help="the results.json that tlbench evaluate wrote"),
    name: str | None = typer.Option(
        None, "--name", "-n", help="display name, names the entry file (default: agent class)"
    ),
    agent_version: str | None = typer.Option(
        None, "--agent-version", help="the agent's version (default: its code digest)"
    ),
    directory: Path | None = typer.Option(
        None, "--dir", help="leaderboard folder (default: the repo's leaderboards/)"
    ),
    check: bool = typer.Option(False, "--check", help="check only; store nothing"),
) -> None:
    """Check a results file, recompute its metrics from the raw curves and store it as a
    leaderboard entry (leaderboards/<scenario>/<tier>/<name>.json)."""
    from tlbench.leaderboard import SubmissionError, leaderboard_dir, submit
    from tlbench.scenarios.schema import display_path

    root = directory if directory is not None else leaderboard_dir()
    try:
        done = submit(results, root, name=name, agent_version=agent_version, dry_run=check)
    except SubmissionError as exc:
        _fail(f"[{exc.code}] {exc}", code=1)
    entry = done.entry
    what = f"{entry.name!r} version {entry.agent_version!r} on {entry.scenario.id!r}"
    where = display_path(done.path)
    if check:
        typer.echo(f"ok: {what} ({entry.tier} tier) passes every check; would be {where}")
        return
    replaced = f", replacing version {done.replaced!r}" if done.replaced else ""
    typer.echo(f"stored {what} ({entry.tier} tier) as {where}{replaced}")
    typer.echo("run `tlbench leaderboard` to regenerate the tables, plots and page")


@app.command("compare")
def compare_command(
    results: list[Path] = typer.Argument(
        ..., help="two or more results.json files (or their folders, or leaderboard entries)"
    ),
    label: list[str] | None = typer.Option(
        None, "--label", "-l", help="a name per file, in order (default: agent and its -k)"
    ),
    out: Path = typer.Option(
        Path("compare"), "--out", "-o", help="folder for compare.json and compare.png"
    ),
    seed: int = typer.Option(0, "--seed", help="seed of the bootstrap intervals"),
    reps: int = typer.Option(2000, "--reps", help="bootstrap replications"),
) -> None:
    """Compare evaluations of one scenario tier: every condition's final return, AUC and
    embedding distance with 95% intervals, ranked, and P(X > Y) for every pair."""
    from tlbench.compare import CompareError, compare, split_lines, tables, write
    from tlbench.leaderboard import SubmissionError
    from tlbench.scenarios.schema import display_path

    try:
        result = compare(results, label or None, seed=seed, reps=reps)
    except (CompareError, SubmissionError) as exc:
        code = getattr(exc, "code", None)
        _fail(f"[{code}] {exc}" if code else str(exc), code=1)
    for table in tables(result):
        console.print(table)
    for line in split_lines(result):
        console.print(line)
    written = write(result, out, reps)
    console.print(f"wrote {', '.join(display_path(p) for p in written)}")


@app.command("leaderboard")
def leaderboard_command(
    directory: Path | None = typer.Option(
        None, "--dir", help="leaderboard folder (default: the repo's leaderboards/)"
    ),
    check: bool = typer.Option(
        False, "--check", help="write nothing; fail if the generated files are out of date"
    ),
) -> None:
    """Check every entry and regenerate the leaderboard from them: README.md, the plots and
    the web page site/index.html."""
    from tlbench.leaderboard import SubmissionError, leaderboard_dir
    from tlbench.leaderboard.render import regenerate, stale_files
    from tlbench.scenarios.schema import display_path

    root = directory if directory is not None else leaderboard_dir()
    try:
        if check:
            stale = stale_files(root)
            if stale:
                _fail(
                    f"{len(stale)} generated file(s) in {display_path(root)} are out of date: "
                    f"{', '.join(stale)}; run `tlbench leaderboard`",
                    code=1,
                )
            typer.echo(f"{display_path(root)}: every generated file is up to date")
            return
        written = regenerate(root)
    except SubmissionError as exc:
        _fail(f"[{exc.code}] {exc}", code=1)
    typer.echo(f"wrote {len(written)} files under {display_path(root)}: README.md, site/")


class _Progress:
    """Progress bars on a terminal: runs done of total, and steps within each running run.
    Elsewhere (output to a file, a cluster job's log) a plain line per finished run."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._live = err_console.is_terminal
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
            disable=not self._live,
        )
        self._overall: Any = None
        self._tasks: dict[str, Any] = {}
        self._done = self._total = 0

    def __enter__(self) -> _Progress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(*exc)  # type: ignore[arg-type]

    def plan(self, runs: list[Any], todo: list[Any]) -> None:
        self._total, self._done = len(runs), len(runs) - len(todo)
        self._overall = self._progress.add_task("runs", total=self._total, completed=self._done)
        if not self._live:
            err_console.print(
                f"{self._total} runs: {self._done} finished before, {len(todo)} to run"
            )

    def start(self, run: Any) -> None:
        self._tasks[run.key] = self._progress.add_task(f"  {run.label}", total=None)

    def progress(self, key: str, done: int, total: int) -> None:
        if key in self._tasks:
            self._progress.update(self._tasks[key], completed=done, total=total)

    def done(self, run: Any, record: dict[str, Any]) -> None:
        task = self._tasks.pop(run.key, None)
        if task is not None:
            self._progress.remove_task(task)
        self._progress.advance(self._overall)
        self._done += 1
        ok = record.get("status") == "ok"
        if not self._live:
            seconds = (record.get("timing") or {}).get("total_s")
            took = f" in {seconds:,.0f} s" if seconds is not None else ""
            err_console.print(
                f"[{self._done}/{self._total}] {run.label}: {'ok' if ok else 'failed'}{took}",
                highlight=False,
            )
        if not ok:
            err_console.print(f"[red]run {run.label} failed:[/red] {record.get('error')}")


def _fail(message: str, code: int = 2) -> NoReturn:
    from rich.markup import escape

    err_console.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def main() -> None:
    """Entry point of the ``tlbench`` console script."""
    try:
        app()
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
    # Everything is written and closed by now: skip the interpreter's teardown of torch, scipy
    # and the rest, which costs about a second at every exit.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else 0 if code is None else 1)


if __name__ == "__main__":
    main()
