"""The import contract of the house, checked over the source with ``ast``.

Arrows only point down the layers; a feature package never imports another; platform libraries
live only under ``bot/adapters/``; SQL, the ORM session and repositories live only in
``storage/``; outside it nothing assigns to a record's attributes. ``violations`` reads a source
tree and lists every breach, so the same check runs on the real tree and on deliberately broken
ones in the contract's own tests.
"""

from __future__ import annotations

import ast
import functools
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Lowest first: a package may import its own layer's package and those below, never above.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("kernel",),
    ("campaigns",),
    ("storage", "messages"),  # side by side: neither imports the other
    ("handlers",),
    ("bot",),
)
PLATFORM_LIBRARIES = frozenset(
    {"slack_bolt", "slack_sdk", "telegram", "lark_oapi", "dingtalk_stream", "wechatpy"}
)
DATABASE_LIBRARIES = frozenset({"sqlalchemy", "alembic", "psycopg", "aiosqlite", "asyncpg"})
# Inside handlers/: shared helpers at the bottom, then the framework, then the features.
HANDLER_BASES = ("shared", "framework")
# Who may assign to attributes outside storage/: an object its own methods or a handler's context.
OWN_OBJECTS = frozenset({"self", "cls", "ctx", "context"})


@dataclass(frozen=True)
class Module:
    path: Path
    name: str  # dotted
    tree: ast.Module

    @property
    def package(self) -> str:
        return self.name.split(".")[0]

    def imports(self) -> Iterator[tuple[int, str]]:
        """(line, module) for every import, relative ones resolved."""
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield node.lineno, alias.name
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(self, node)
                yield node.lineno, base
                for alias in node.names:  # ``from handlers import drills`` imports a package
                    yield node.lineno, f"{base}.{alias.name}"


def _resolve(module: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    parts = module.name.split(".")
    is_package = module.path.name == "__init__.py"
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def modules(root: Path) -> list[Module]:
    found = []
    for package in (name for layer in LAYERS for name in layer):
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root).with_suffix("")
            parts = list(relative.parts)
            if parts[-1] == "__init__":
                parts.pop()
            if "migrations" in parts:  # Alembic's scripts are storage's own
                continue
            found.append(Module(path, ".".join(parts), _parsed(path.read_text("utf-8"))))
    return found


@functools.lru_cache(maxsize=4096)
def _parsed(source: str) -> ast.Module:
    """A module's tree, parsed once per text: the breach tests check copies of the same tree
    again and again, and the trees are only read."""
    return ast.parse(source)


def violations(root: Path) -> list[str]:
    """Every breach of the contract under ``root``, as ``path:line: what``."""
    found: list[str] = []
    every = modules(root)
    ours = {name for layer in LAYERS for name in layer}
    repositories = _repository_classes(m for m in every if m.package == "storage")
    for module in every:
        where = module.path.relative_to(root)
        for line, imported in module.imports():
            top = imported.split(".")[0]
            problem = None
            if top in ours:
                problem = _layer_problem(module, imported) or _feature_problem(module, imported)
            elif top in PLATFORM_LIBRARIES and not module.name.startswith("bot.adapters."):
                problem = f"imports the platform library {top} outside bot/adapters/"
            elif top in DATABASE_LIBRARIES and module.package != "storage":
                problem = f"imports {top} outside storage/"
            elif module.package == "kernel" and top not in sys.stdlib_module_names:
                problem = f"imports {top}: the kernel uses the standard library only"
            if problem:
                found.append(f"{where}:{line}: {problem} ({imported})")
        if module.package != "storage":
            found += [
                f"{where}:{line}: {what}" for line, what in _storage_leaks(module, repositories)
            ]
    return sorted(set(found))


def _layer_of(package: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if package in layer)


def _layer_problem(module: Module, imported: str) -> str | None:
    target = imported.split(".")[0]
    mine, theirs = _layer_of(module.package), _layer_of(target)
    if theirs > mine:
        return f"{module.package} imports upward into {target}"
    if theirs == mine and target != module.package:
        return f"{module.package} imports its neighbour {target}"
    return None


def _feature_problem(module: Module, imported: str) -> str | None:
    """Inside handlers/: features import only shared/ and framework/ and themselves."""
    if module.package != "handlers" or not imported.startswith("handlers."):
        return None
    mine = module.name.split(".")[1] if module.name.count(".") else None
    theirs = imported.split(".")[1]
    if mine is None or mine == theirs:  # handlers/__init__ lists the features
        return None
    if mine == "shared":
        return "shared helpers import the framework or a feature"
    if mine == "framework" and theirs != "shared":
        return "the framework imports a feature"
    if mine not in HANDLER_BASES and theirs not in HANDLER_BASES:
        return f"the feature {mine} imports the feature {theirs}"
    return None


def _repository_classes(storage: Iterator[Module]) -> set[str]:
    """Classes of storage/ built on a session: the repositories (only Store builds them)."""
    names = set()
    for module in storage:
        for node in ast.walk(module.tree):
            if not isinstance(node, ast.ClassDef) or node.name == "Store":
                continue
            for item in node.body:
                if (
                    isinstance(item, ast.FunctionDef)
                    and item.name == "__init__"
                    and any(arg.arg == "session" for arg in item.args.args)
                ):
                    names.add(node.name)
    return names


def _storage_leaks(module: Module, repositories: set[str]) -> Iterator[tuple[int, str]]:
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Attribute) and node.attr in ("session", "_session"):
            yield node.lineno, "uses a database session outside storage/"
        elif isinstance(node, ast.Call):
            called = node.func
            name = called.attr if isinstance(called, ast.Attribute) else getattr(called, "id", "")
            if name == "transaction" and isinstance(called, ast.Attribute):
                yield node.lineno, "opens a raw transaction outside storage/ (use Database.store())"
            elif name in repositories or name == "Store":  # type hints may name Store
                yield node.lineno, f"builds the repository {name} outside Store"
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("storage"):
            for alias in node.names:
                if alias.name in repositories:
                    yield node.lineno, f"imports the repository {alias.name} outside Store"
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign) and module.package in (
            "handlers",
            "bot",
        ):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for element in target.elts if isinstance(target, ast.Tuple) else [target]:
                    if isinstance(element, ast.Attribute) and not (
                        isinstance(element.value, ast.Name) and element.value.id in OWN_OBJECTS
                    ):
                        yield node.lineno, f"writes {ast.unparse(element)} outside storage/"
