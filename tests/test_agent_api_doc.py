"""The complete agent of docs/agent-api.md runs as written."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from tlbench.cli import app

DOC = Path(__file__).resolve().parents[1] / "docs" / "agent-api.md"


def documented_agent() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    agents = [b for b in blocks if "class TabularQ(Agent)" in b]
    assert len(agents) == 1, "docs/agent-api.md must hold the TabularQ agent once"
    return agents[0]


def test_the_documented_agent_runs_through_evaluate(tmp_path: Path) -> None:
    agent = tmp_path / "tabular_q.py"
    agent.write_text(documented_agent())
    out = tmp_path / "runs"
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            str(agent),
            "--scenario",
            "maze/inverse",
            "--tier",
            "smoke",
            "--out",
            str(out),
            "--no-plot",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["agent"]["name"] == "TabularQ"
    assert all(run["status"] == "ok" for run in results["runs"])
    assert "final return (IQM)" in result.stdout
    # The Q-table learned on the maze is saved and loaded: it holds maze observations only.
    artifact = next((out / "artifacts").iterdir()) / "q.json"
    assert len(json.loads(artifact.read_text())) > 10
