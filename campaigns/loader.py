"""Reading a plan file: YAML with line numbers, then the schema's checks.

Every problem found is reported with the line it is on, so a campaign office can fix a plan
without guessing. Times such as 8:30 stay text (plain YAML 1.1 would read them as base-60
numbers), and nothing in the file can construct Python objects.

A plan file is also untrusted input, so reading it is bounded: the file's size, how many values
it holds once aliases are expanded (a "billion laughs" file is refused at the alias that crosses
the limit, before anything is built), and how deeply it nests. Tags other than YAML's plain
types are refused, a key given twice in one mapping is reported with both lines, and a date that
does not exist (month 13, 25:00) is reported on its line. Whatever the text, reading returns a
``PlanReading``; it does not raise.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Any

import yaml
from pydantic import ValidationError

from campaigns.schema import Path, Plan, PlanParts, PlanProblem, semantic_errors

# The largest shipped plan is about 40 KB; 1 MB is 25 times that. Reading is never asked to
# parse more: PyYAML is pure Python, about a second per megabyte.
MAX_PLAN_BYTES = 1_000_000
# Values (scalars, lists and mappings) once every alias is expanded: the largest shipped plan has
# about 1,700. 50,000 is thirty times that; it stops a billion-laughs file at the alias that
# crosses it (in about a millisecond), and bounds the work of checking any plan, however dense
# (a megabyte of "- 1" lines), to about two seconds.
MAX_PLAN_NODES = 50_000
# Nesting of lists and mappings: the shipped plans nest 8 deep, a unit tree adds 2 per level.
# 50 leaves room for a unit tree 20 levels deep, and keeps the YAML composer, the schema check and
# the line bookkeeping (all recursive) far from Python's recursion limit.
MAX_PLAN_DEPTH = 50

_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_CORE}{name}" for name in ("str", "int", "float", "bool", "null")}
_MERGE = f"{_CORE}merge"
_TIMESTAMP = f"{_CORE}timestamp"


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
    lines: dict[Path, int] = field(default_factory=dict)  # where each value is in the file

    def line_of(self, path: Path) -> int:
        """The line of ``path`` (or of the nearest value above it that has one), 1 at worst."""
        return _line_of(path, self.lines)


def read_plan_file(path: FilePath) -> PlanReading:
    """Read the plan at ``path``; an unreadable, oversized or non-UTF-8 file is a problem too."""
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_PLAN_BYTES + 1)
    except OSError as exc:
        return _stop(LocatedProblem(1, (), "unreadable", {"detail": exc.strerror or str(exc)}))
    if len(raw) > MAX_PLAN_BYTES:
        return _stop(_too_large(path.stat().st_size))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:  # e.g. a plan saved as GBK: report it, do not crash
        line = raw[: exc.start].count(b"\n") + 1
        return _stop(
            LocatedProblem(line, (), "not_utf8", {"field": path.name, "detail": exc.reason})
        )
    return read_plan_text(text)


def read_plan_text(text: str) -> PlanReading:
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > MAX_PLAN_BYTES:
        return _stop(_too_large(size), text)
    line = _Lines(text)
    try:
        root = _Composer(text, line).compose()
    except _Refused as refused:
        return _stop(refused.problem, text)
    if not isinstance(root, yaml.MappingNode):
        return _stop(LocatedProblem(line(root), (), "not_a_mapping"), text)
    builder = _Builder(line)
    data = builder.build(root, ())
    lines = builder.lines
    try:
        plan: Plan | None = Plan.model_validate(data)
    except ValidationError as exc:
        plan = None
        # A value already reported while reading (a date that does not exist, a refused tag) is
        # not reported again by the schema.
        reported = {p.path for p in builder.problems if p.code in ("date_invalid", "yaml_tag")}
        shape = [
            problem
            for problem in (_from_pydantic(error, lines) for error in exc.errors())
            if problem.path not in reported
        ]
    parts = PlanParts.of(plan) if plan is not None else PlanParts.lenient(data)
    problems = (
        builder.problems
        + (shape if plan is None else [])
        + [_locate(problem, lines) for problem in semantic_errors(parts)]
    )
    if problems:
        return PlanReading(None, sorted(problems, key=lambda p: p.line), text)
    return PlanReading(plan, [], text, lines)


def _stop(problem: LocatedProblem, text: str = "") -> PlanReading:
    return PlanReading(None, [problem], text)


def _too_large(size: int) -> LocatedProblem:
    return LocatedProblem(1, (), "file_too_large", {"size": size, "limit": MAX_PLAN_BYTES})


class _Lines:
    """The 1-based line of a node, an event, a mark or a position, as an editor numbers lines.
    (PyYAML's own count also breaks lines at U+0085, U+2028 and U+2029, which would shift every
    line after such a character in a pasted text.)"""

    def __init__(self, text: str) -> None:
        self._breaks = [match.start() for match in re.finditer(r"\r\n?|\n", text)]

    def __call__(self, where: yaml.Node | yaml.Event | yaml.Mark | int | None) -> int:
        if not isinstance(where, int):
            mark = where if isinstance(where, yaml.Mark) else getattr(where, "start_mark", None)
            if mark is None:
                return 1
            where = mark.index
        return bisect.bisect_left(self._breaks, where) + 1


class _Refused(Exception):
    """Reading stops here: the one problem to report."""

    def __init__(self, problem: LocatedProblem) -> None:
        super().__init__(problem.code)
        self.problem = problem


@dataclass
class _Open:
    """A list or mapping being read: its values so far (aliases expanded) and its height."""

    node: yaml.SequenceNode | yaml.MappingNode
    anchor: str | None
    size: int = 1
    height: int = 1
    key: yaml.Node | None = None  # a mapping's key waiting for its value


class _Composer:
    """YAML events to nodes, like PyYAML's composer but without recursion, and counting: the
    values once aliases are expanded (an alias counts as its whole anchored node, so ten aliases
    of ten aliases of ... are refused as soon as the total crosses the limit, before anything is
    built) and the depth, aliases included. Explicit tags other than the plain types are
    refused: the value is read as the text, list or mapping it is written as, never built."""

    _loader: _PlanLoader

    def __init__(self, text: str, line: _Lines) -> None:
        self._text = text
        self._line = line
        self._anchors: dict[str, tuple[yaml.Node, int, int]] = {}  # node, size, height
        self._open: set[str] = set()  # anchors whose node is still being read
        self._total = 0

    def compose(self) -> yaml.Node | None:
        try:
            self._loader = _PlanLoader(self._text)  # checks every character first
            try:
                return self._document()
            finally:
                self._loader.dispose()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            raise _Refused(
                LocatedProblem(self._line(mark), (), "yaml_syntax", {"detail": exc.problem or ""})
            ) from None
        except yaml.YAMLError as exc:  # the reader: a character YAML does not allow
            position = getattr(exc, "position", 0) or 0
            line = self._line(position)
            character = getattr(exc, "character", None)
            detail = getattr(exc, "reason", "") or str(exc)
            if isinstance(character, int):
                detail = f"#x{character:04x}: {detail}"
            raise _Refused(LocatedProblem(line, (), "yaml_syntax", {"detail": detail})) from None

    def _document(self) -> yaml.Node | None:
        loader = self._loader
        loader.get_event()  # StreamStart
        if loader.check_event(yaml.StreamEndEvent):
            return None
        loader.get_event()  # DocumentStart
        root = self._node()
        loader.get_event()  # DocumentEnd
        if not loader.check_event(yaml.StreamEndEvent):
            raise _Refused(LocatedProblem(self._line(loader.get_event()), (), "yaml_documents"))
        return root

    def _node(self) -> yaml.Node:
        stack: list[_Open] = []
        while True:
            event = self._loader.get_event()
            if isinstance(event, yaml.AliasEvent):
                node, size, height = self._alias(event, len(stack))
            elif isinstance(event, yaml.ScalarEvent):
                tag = self._tag(event, yaml.ScalarNode, event.value)
                node = yaml.ScalarNode(
                    tag, event.value, event.start_mark, event.end_mark, style=event.style
                )
                size, height = 1, 1
                self._count(event, size)
                self._anchor(event.anchor, node, size, height)
            elif isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
                if len(stack) + 1 > MAX_PLAN_DEPTH:
                    raise _Refused(
                        LocatedProblem(self._line(event), (), "too_deep", {"limit": MAX_PLAN_DEPTH})
                    )
                self._count(event, 1)
                kind = (
                    yaml.SequenceNode
                    if isinstance(event, yaml.SequenceStartEvent)
                    else yaml.MappingNode
                )
                tag = self._tag(event, kind, None)
                collection = kind(tag, [], event.start_mark, None, flow_style=event.flow_style)
                if event.anchor is not None:
                    self._open.add(event.anchor)
                stack.append(_Open(collection, event.anchor))
                continue
            else:  # the end of a list or mapping
                done = stack.pop()
                done.node.end_mark = event.end_mark
                node, size, height = done.node, done.size, done.height
                if done.anchor is not None:
                    self._open.discard(done.anchor)
                    self._anchor(done.anchor, node, size, height)
            if not stack:
                return node
            parent = stack[-1]
            if isinstance(parent.node, yaml.SequenceNode):
                parent.node.value.append(node)
            elif parent.key is None:
                parent.key = node
            else:
                parent.node.value.append((parent.key, node))
                parent.key = None
            parent.size += size
            parent.height = max(parent.height, height + 1)

    def _alias(self, event: yaml.AliasEvent, depth: int) -> tuple[yaml.Node, int, int]:
        name = str(event.anchor)
        if name in self._open:
            raise _Refused(
                LocatedProblem(self._line(event), (), "yaml_recursive_alias", {"name": name[:80]})
            )
        if name not in self._anchors:
            raise _Refused(
                LocatedProblem(self._line(event), (), "yaml_unknown_alias", {"name": name[:80]})
            )
        node, size, height = self._anchors[name]
        if depth + height > MAX_PLAN_DEPTH:  # aliases of deep nodes inside deep nodes
            raise _Refused(
                LocatedProblem(self._line(event), (), "too_deep", {"limit": MAX_PLAN_DEPTH})
            )
        self._count(event, size)
        return node, size, height

    def _anchor(self, name: str | None, node: yaml.Node, size: int, height: int) -> None:
        if name is not None:
            self._anchors[name] = (node, size, height)

    def _count(self, event: yaml.Event, size: int) -> None:
        self._total += size
        if self._total > MAX_PLAN_NODES:
            raise _Refused(
                LocatedProblem(self._line(event), (), "too_many_values", {"limit": MAX_PLAN_NODES})
            )

    def _tag(self, event: yaml.NodeEvent, kind: type[yaml.Node], value: str | None) -> str:
        tag = getattr(event, "tag", None)
        implicit = getattr(event, "implicit", (True, False))
        if tag is None or tag == "!":
            return str(self._loader.resolve(kind, value, implicit))
        if kind is yaml.ScalarNode:
            allowed = _SCALAR_TAGS
        else:
            allowed = {f"{_CORE}seq" if kind is yaml.SequenceNode else f"{_CORE}map"}
        if tag not in allowed:  # reported by the builder, with the value's place in the plan
            return _REFUSED + ("!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag)
        return str(tag)


class _Builder:
    """Nodes to plain data (dicts, lists, text, numbers, dates), recording the line of every
    path; a key given twice and a date that does not exist are problems on their lines."""

    def __init__(self, line: _Lines) -> None:
        self._line = line
        self.lines: dict[Path, int] = {}
        self.problems: list[LocatedProblem] = []
        self._constructor = _PlanLoader("")
        self._refused: set[int] = set()  # nodes whose tag was reported (aliases repeat them)

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.lines[path] = self._line(node)
        self._check_tag(node, path)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        data: dict[str, Any] = {}
        # ``<<: *defaults`` first, so that the mapping's own keys win over merged ones
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else []
                for source in sources or [value_node]:
                    if isinstance(source, yaml.MappingNode):
                        data.update(
                            (k, v) for k, v in self._mapping(source, path).items() if k not in data
                        )
                    else:
                        self.problems.append(LocatedProblem(self._line(source), path, "yaml_merge"))
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(LocatedProblem(self._line(key_node), path, "yaml_key"))
                continue
            key = str(key_node.value)
            child = (*path, key)
            self._check_tag(key_node, child)
            if key in first_line:
                self.problems.append(
                    LocatedProblem(
                        self._line(key_node),
                        child,
                        "yaml_duplicate_key",
                        {"key": key[:80], "first": first_line[key]},
                    )
                )
                continue
            first_line[key] = self._line(key_node)
            data[key] = self.build(value_node, child)
            self.lines[child] = self._line(key_node)
        return data

    def _check_tag(self, node: yaml.Node, path: Path) -> None:
        if node.tag.startswith(_REFUSED) and id(node) not in self._refused:
            self._refused.add(id(node))
            tag = node.tag[len(_REFUSED) :][:80]
            self.problems.append(LocatedProblem(self._line(node), path, "yaml_tag", {"tag": tag}))

    def _scalar(self, node: yaml.ScalarNode, path: Path) -> Any:
        construct = _CONSTRUCTORS.get(node.tag)
        if construct is None:
            return node.value  # text, a refused tag, or a type we do not build (``=``)
        try:
            return construct(self._constructor, node)
        except Exception:  # PyYAML's scalar constructors fail in many ways (IndexError too)
            if node.tag == _TIMESTAMP:  # 2027-13-01, 2027-05-18 25:00
                self.problems.append(
                    LocatedProblem(
                        self._line(node), path, "date_invalid", {"value": node.value[:40]}
                    )
                )
            return node.value  # 0x_, an explicit !!int on text: the schema says what it expects


_REFUSED = "refused:"
_CONSTRUCTORS = {
    tag: yaml.SafeLoader.yaml_constructors[tag]
    for tag in (*(f"{_CORE}{name}" for name in ("int", "float", "bool", "null")), _TIMESTAMP)
}


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
