"""Finding, reading and validating the scenario files under ``tasks/``.

A scenario's id is its file's path under the tasks folder without ``.yaml``: ``maze/inverse`` is
``tasks/maze/inverse.yaml``. Files are read with a safe YAML loader that also rejects duplicate
keys, and every problem (YAML syntax, unknown or missing keys, wrong types, failed checks) is
raised as one :class:`ScenarioError` whose lines read ``<file>: <key path>: <problem> (line N)``.
"""

from __future__ import annotations

import os
import re
import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from tlbench.envs import suggest
from tlbench.scenarios.schema import _ID_PATTERN, Scenario, ScenarioError, display_path

#: environment variable naming another folder of scenario files
TASKS_DIR_ENV = "TLBENCH_TASKS_DIR"


def tasks_dir() -> Path:
    """The folder of scenario files: ``$TLBENCH_TASKS_DIR`` if set, else the repo's ``tasks/``.

    >>> tasks_dir().name
    'tasks'
    """
    override = os.environ.get(TASKS_DIR_ENV)
    if override:
        return Path(override).expanduser()
    return Path(__file__).resolve().parents[2] / "tasks"


def scenario_ids() -> list[str]:
    """Every scenario id under :func:`tasks_dir`, sorted.

    >>> "maze/inverse" in scenario_ids()
    True
    """
    root = tasks_dir()
    if not root.is_dir():
        raise ScenarioError(
            f"{display_path(root)}: no such folder of scenario files "
            f"(set {TASKS_DIR_ENV} to the folder that holds them)"
        )
    ids = []
    for path in root.rglob("*.yaml"):
        rel = path.relative_to(root)
        if path.is_file() and not any(part.startswith(".") for part in rel.parts):
            ids.append(rel.with_suffix("").as_posix())
    return sorted(ids)


def load_scenario(id_or_path: str | Path) -> Scenario:
    """Load and validate a scenario from its id (``"maze/inverse"``) or a path to its file.

    A ``Path``, or a string ending in ``.yaml`` or ``.yml``, is a path; any other string is an id
    looked up under :func:`tasks_dir`.

    >>> load_scenario("maze/inverse").title
    'Maze: normal to inverse'
    >>> try:
    ...     load_scenario("maze/invrse")
    ... except ScenarioError as exc:
    ...     print(exc)
    unknown scenario 'maze/invrse'; did you mean 'maze/inverse'? (`tlbench list` shows all)
    """
    path = _locate(id_or_path)
    data, root_node = _read_yaml(path)
    if not isinstance(data, dict):
        kind = _kind(data)
        got = "an empty file" if data is None else f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"
        raise ScenarioError(
            f"{display_path(path)}: expected a mapping of keys "
            f"({', '.join(_keys_of(Scenario))}) at the top level, got {got}"
        )
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        lines = [_problem(path, error, root_node) for error in exc.errors()]
        raise ScenarioError("\n".join(dict.fromkeys(lines))) from None
    _check_id(path, scenario.id, root_node)
    scenario._path = path.absolute()
    return scenario


# -- locating and reading ----------------------------------------------------------------------


def _locate(id_or_path: str | Path) -> Path:
    if isinstance(id_or_path, Path) or id_or_path.endswith((".yaml", ".yml")):
        path = Path(id_or_path)
        if not path.is_file():
            raise ScenarioError(f"{display_path(path)}: no such scenario file")
        return path
    path = tasks_dir() / f"{id_or_path}.yaml"
    if _ID_PATTERN.fullmatch(id_or_path) and path.is_file():
        return path
    raise ScenarioError(
        f"unknown scenario {id_or_path!r}{suggest(id_or_path, scenario_ids())} "
        "(`tlbench list` shows all)"
    )


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a mapping may not repeat a key."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        try:
            first = seen.setdefault(key, key_node.start_mark.line)
        except TypeError:  # an unhashable key: let PyYAML report it
            continue
        if first != key_node.start_mark.line:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first at line {first + 1})",
                key_node.start_mark,
            )
    return loader.construct_mapping(node)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    """The file's data and its YAML node tree (for line numbers)."""
    where = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{where}: cannot read the file: {exc}") from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        raise ScenarioError(f"{where}: invalid YAML{at}: {problem}") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{where}: invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    return data, node


def _check_id(path: Path, scenario_id: str, root_node: yaml.Node | None) -> None:
    where = f"{display_path(path)}: id"
    line = _line_suffix(root_node, ("id",))
    stem = path.resolve().with_suffix("")
    try:
        expected = stem.relative_to(tasks_dir().resolve()).as_posix()
    except ValueError:  # a file outside the tasks folder: its last path parts must spell the id
        parts = scenario_id.split("/")
        if list(stem.parts[-len(parts) :]) != parts:
            found = "/".join(stem.parts[-len(parts) :])
            raise ScenarioError(
                f"{where}: {scenario_id!r} does not match the file's name{line}; "
                f"a scenario's file is <folder>/{scenario_id}.yaml: rename the file or set "
                f"id: {found}"
            ) from None
        return
    if scenario_id != expected:
        raise ScenarioError(
            f"{where}: {scenario_id!r} does not match the file's place under the tasks folder"
            f"{line}; set id: {expected}, or move the file to {scenario_id}.yaml there"
        )


# -- turning pydantic's errors into lines ------------------------------------------------------


def _kind(value: Any) -> str:
    """What a YAML value is, in YAML's words."""
    names = {bool: "boolean", int: "integer", float: "number", str: "string", list: "list",
             dict: "mapping", type(None): "null"}  # fmt: skip
    return names.get(type(value), type(value).__name__)


def _show(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({_kind(value)})"


def _keys_of(model: type[BaseModel]) -> list[str]:
    """The keys a file may use for ``model``'s fields."""
    return [info.alias or name for name, info in model.model_fields.items()]


def _optional_arm(annotation: Any) -> Any:
    """``X`` for ``X | None``, else the annotation itself."""
    if get_origin(annotation) in (Union, types.UnionType):
        arms = [arm for arm in get_args(annotation) if arm is not type(None)]
        if len(arms) == 1:
            return arms[0]
    return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model validating the value at ``loc`` of a scenario, if that value is a model."""
    current: Any = Scenario
    for part in loc:
        current = _optional_arm(current)
        if _is_model(current):
            fields = {info.alias or name: info for name, info in current.model_fields.items()}
            if part not in fields:
                return None
            current = fields[part].annotation
        elif get_origin(current) in (list, dict):  # ``part`` is an index or a key
            current = get_args(current)[-1]
        else:
            return None
    current = _optional_arm(current)
    return current if _is_model(current) else None


def _dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _node_at(node: yaml.Node | None, loc: tuple[int | str, ...]) -> yaml.Node | None:
    """The deepest YAML node along ``loc`` (the key's node for a mapping entry)."""
    found = node
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            entry = next((kv for kv in node.value if kv[0].value == str(part)), None)
            if entry is None:
                break
            found, node = entry
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            found = node = node.value[part]
        else:
            break
    return found


def _line_suffix(node: yaml.Node | None, loc: tuple[int | str, ...]) -> str:
    found = _node_at(node, loc)
    return f" (line {found.start_mark.line + 1})" if found is not None else ""


def _problem(path: Path, error: ErrorDetails, root_node: yaml.Node | None) -> str:
    """One line for one pydantic error: ``<file>: <key path>: <problem> (line N)``."""
    loc, kind, value = tuple(error["loc"]), error["type"], error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        loc, missing = loc[:-1], loc[-1]
        msg = f"missing key {missing!r}"
    elif kind == "extra_forbidden":
        loc, key = loc[:-1], str(loc[-1])
        allowed = _keys_of(model) if (model := _model_at(loc)) else []
        msg = f"unknown key {key!r}{suggest(key, allowed)} (allowed keys: {', '.join(allowed)})"
        loc = (*loc, key)
    elif loc and loc[-1] == "[key]":  # a mapping key outside its allowed set (a tier name)
        loc = loc[:-1]
        allowed = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        hint = suggest(str(value), allowed)
        msg = f"unknown key {value!r}{hint} (allowed keys: {', '.join(allowed)})"
    elif kind in ("value_error", "assertion_error"):
        msg = str(ctx.get("error", error["msg"]))
    elif kind == "literal_error":
        allowed = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        msg = f"{_show(value)} is not one of {', '.join(allowed)}{suggest(str(value), allowed)}"
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        keys = f" with keys {', '.join(_keys_of(model))}" if (model := _model_at(loc)) else ""
        msg = f"expected a mapping{keys}, got {_show(value)}"
    elif kind == "list_type":
        msg = f"expected a list, got {_show(value)}"
    else:
        msg = f"{error['msg'][0].lower()}{error['msg'][1:]}, got {_show(value)}"
    where = f"{display_path(path)}: {_dotted(loc)}" if loc else display_path(path)
    return f"{where}: {msg}{_line_suffix(root_node, loc)}"
