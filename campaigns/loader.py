"""Reading a plan file: YAML with line numbers, then the schema's checks.

Every problem found is reported with the line it is on, so a campaign office can fix a plan
without guessing. Times such as 8:30 stay text (plain YAML 1.1 would read them as base-60
numbers), and nothing in the file can construct Python objects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Any

import yaml
from pydantic import ValidationError

from campaigns.schema import Path, Plan, PlanParts, PlanProblem, semantic_errors


class _PlanLoader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1's base-60 numbers, so ``8:30`` is read as text."""


_PlanLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in ("tag:yaml.org,2002:int",)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_PlanLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)


@dataclass(frozen=True)
class LocatedProblem:
    """A plan problem with the 1-based line it is on."""

    line: int
    path: Path
    code: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PlanReading:
    """The outcome of reading a plan: the plan, or the problems that stop it."""

    plan: Plan | None
    problems: list[LocatedProblem]
    text: str


def read_plan_file(path: FilePath) -> PlanReading:
    return read_plan_text(path.read_text(encoding="utf-8"))


def read_plan_text(text: str) -> PlanReading:
    try:
        root = yaml.compose(text, Loader=_PlanLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        return PlanReading(
            None, [LocatedProblem(line, (), "yaml_syntax", {"detail": exc.problem})], text
        )
    if not isinstance(root, yaml.MappingNode):
        return PlanReading(None, [LocatedProblem(1, (), "not_a_mapping")], text)
    lines: dict[Path, int] = {}
    _record_lines(root, (), lines)
    data = yaml.load(text, Loader=_PlanLoader)
    try:
        plan: Plan | None = Plan.model_validate(data)
    except ValidationError as exc:
        plan = None
        shape = [_from_pydantic(error, lines) for error in exc.errors()]
    parts = PlanParts.of(plan) if plan is not None else PlanParts.lenient(data)
    problems = (shape if plan is None else []) + [
        _locate(problem, lines) for problem in semantic_errors(parts)
    ]
    if problems:
        return PlanReading(None, sorted(problems, key=lambda p: p.line), text)
    return PlanReading(plan, [], text)


def _record_lines(node: yaml.Node, path: Path, lines: dict[Path, int]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = (*path, str(key_node.value))
            _record_lines(value_node, child, lines)
            lines[child] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_lines(item, (*path, index), lines)


def _line_of(path: Path, lines: dict[Path, int]) -> int:
    """The line of ``path``, or of its nearest ancestor present in the file (for a missing key)."""
    for end in range(len(path), -1, -1):
        line = lines.get(tuple(path[:end]))
        if line is not None:
            return line
    return 1


def _locate(problem: PlanProblem, lines: dict[Path, int]) -> LocatedProblem:
    return LocatedProblem(_line_of(problem.path, lines), problem.path, problem.code, problem.data)


def _from_pydantic(error: Any, lines: dict[Path, int]) -> LocatedProblem:
    # Drop the discriminated union's tag ("choice"/"scenario") from the path: it is not in the file.
    path: Path = tuple(
        part
        for part in error["loc"]
        if not (isinstance(part, str) and part in ("choice", "scenario"))
    )
    code = error["type"]
    data: dict[str, Any] = {"detail": error["msg"], "field": str(path[-1]) if path else ""}
    context = error.get("ctx") or {}
    if code == "value_error" and "error" in context:
        code = str(context["error"])
    else:
        data.update({k: str(v) for k, v in context.items()})
    if code == "missing":
        data["field"] = str(path[-1])
    return LocatedProblem(_line_of(path, lines), path, code, data)
