"""docs/envs.md is what scripts/make_env_docs.py generates from the registry and docstrings."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "make_env_docs.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("scripts_make_env_docs", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_env_docs_are_current() -> None:
    docs = load_script()
    # On failure the script prints a diff; run `.venv/bin/python scripts/make_env_docs.py`.
    assert docs.main(["--check"]) == 0


def test_every_registered_id_is_documented() -> None:
    docs = load_script()
    markdown = docs.render_markdown()
    for info in docs.ENVS:
        assert f"`{info.id}`" in markdown
    for title in ("Action Space", "Observation Space", "Rewards", "Episode End"):
        assert markdown.count(f"### {title}") == len(docs.families(docs.ENVS))
