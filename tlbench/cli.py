"""The ``tlbench`` command line."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    name="tlbench",
    help="A Gymnasium-compatible benchmark suite for transfer learning in deep RL.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()


@app.callback()
def _root() -> None:
    """A Gymnasium-compatible benchmark suite for transfer learning in deep RL."""


@app.command("envs")
def envs_command() -> None:
    """List every registered environment id with a one-line description."""
    from tlbench.envs import ENVS

    table = Table("env id", "max steps", "description", box=None, pad_edge=False)
    for info in ENVS:
        table.add_row(info.id, str(info.max_episode_steps or "-"), info.description)
    console.print(table)


def main() -> None:
    """Entry point of the ``tlbench`` console script."""
    app()


if __name__ == "__main__":
    main()
