"""Safe evaluation of the plan's reward and penalty formulas (奖惩公式).

Plans carry formulas such as ``1000 + (target − score) × 200``. They are plan text, so they are
never handed to Python's ``eval``: the expression is parsed into an AST and only arithmetic,
comparisons, boolean logic, conditionals, a few pure functions and the documented names pass.

Whatever the text, parsing and evaluating raise nothing but ``FormulaError`` (with a reason that
names a template in ``messages/<locale>/formula_reason/``), and evaluation never returns an
infinite or NaN number: every step is computed on floats and checked, so a division by zero, an
overflow or a function given the wrong number of values is a refusal, not a crash or "inf yuan".
"""

from __future__ import annotations

import ast
import math
import operator
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# The longest formula in the shipped plans has 120 characters; 500 leaves room for four
# times that, and keeps parsing and evaluating a formula a matter of microseconds.
MAX_FORMULA_LENGTH = 500
# Levels of nested sub-expressions: the deepest shipped formula has 9 (a sum of n terms has n).
# 50 leaves room for long sums and deep conditionals, and keeps evaluation (one Python frame or
# two per level) far from Python's recursion limit.
MAX_FORMULA_DEPTH = 50
# round(x, digits): beyond 15 decimal digits a float has nothing left to round.
MAX_ROUND_DIGITS = 15

_TYPOGRAPHIC = str.maketrans({"×": "*", "÷": "/", "−": "-", "–": "-", "（": "(", "）": ")"})

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_UNARY: dict[type[ast.unaryop], Callable[[float], float | bool]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Not: operator.not_,
}
_COMPARE: dict[type[ast.cmpop], Callable[[float, float], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}


def _round(value: float, digits: float | None = None) -> float:
    if digits is None:
        return float(round(value))
    if not float(digits).is_integer() or abs(digits) > MAX_ROUND_DIGITS:
        raise FormulaError("round_digits", _number(digits), limit=MAX_ROUND_DIGITS)
    return round(value, int(digits))


_FUNCTIONS: dict[str, Callable[..., float]] = {
    "min": min,
    "max": max,
    "abs": abs,
    "round": _round,
    "floor": math.floor,
    "ceil": math.ceil,
}
# How many values each function takes: (at least, at most); None: no upper bound.
_ARITY: dict[str, tuple[int, int | None]] = {
    "min": (2, None),
    "max": (2, None),
    "abs": (1, 1),
    "round": (1, 2),
    "floor": (1, 1),
    "ceil": (1, 1),
}


class FormulaError(ValueError):
    """The formula cannot be parsed or evaluated safely; ``reason`` names the template key,
    ``detail`` says what (a name, a function, a number), ``limit`` the limit that was passed."""

    def __init__(self, reason: str, detail: str = "", *, limit: int = 0) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.limit = limit

    def template_data(self) -> dict[str, Any]:
        """What ``formula_reason/<reason>`` templates (and those including them) print."""
        return {"reason": self.reason, "detail": self.detail, "limit": self.limit}


@dataclass(frozen=True)
class Formula:
    """A parsed formula: validate once at plan load, evaluate many times."""

    text: str
    tree: ast.Expression
    names: frozenset[str]

    def evaluate(self, values: Mapping[str, float]) -> float:
        """The formula's value for ``values``: always a finite float (a condition gives 1.0 or
        0.0); anything else is a FormulaError."""
        missing = self.names - values.keys()
        if missing:
            raise FormulaError("unknown_name", ", ".join(sorted(missing)))
        given: dict[str, float] = {}
        for name in self.names:
            value = values[name]
            try:
                if isinstance(value, str | bytes):
                    raise TypeError(name)
                given[name] = _finite(float(value))
            except (FormulaError, ArithmeticError, TypeError, ValueError):
                raise FormulaError("not_finite", name) from None
        try:
            return float(_finite(_evaluate(self.tree.body, given)))
        except FormulaError:
            raise
        except RecursionError:
            raise FormulaError("too_deep", limit=MAX_FORMULA_DEPTH) from None
        except OverflowError:
            raise FormulaError("overflow") from None
        except (ArithmeticError, TypeError, ValueError, KeyError) as exc:
            raise FormulaError("failed", type(exc).__name__) from None


def parse_formula(text: str, allowed_names: Iterable[str]) -> Formula:
    """Parse ``text``; raise FormulaError on anything beyond arithmetic and ``allowed_names``."""
    if not isinstance(text, str):
        raise FormulaError("syntax", type(text).__name__)
    if len(text) > MAX_FORMULA_LENGTH:
        raise FormulaError("too_long", str(len(text)), limit=MAX_FORMULA_LENGTH)
    normalised = text.translate(_TYPOGRAPHIC).strip()
    if not normalised:
        raise FormulaError("empty")
    try:
        with warnings.catch_warnings():  # e.g. "invalid decimal literal": we say so ourselves
            warnings.simplefilter("ignore")
            tree = ast.parse(normalised, mode="eval")
    except SyntaxError as exc:
        raise FormulaError("syntax", str(exc.msg)) from None
    except (RecursionError, MemoryError):
        raise FormulaError("too_deep", limit=MAX_FORMULA_DEPTH) from None
    except ValueError as exc:  # e.g. a lone surrogate or a NUL character in the text
        raise FormulaError("syntax", type(exc).__name__) from None
    if _depth(tree.body) > MAX_FORMULA_DEPTH:
        raise FormulaError("too_deep", limit=MAX_FORMULA_DEPTH)
    allowed = frozenset(allowed_names)
    names: set[str] = set()
    called: set[int] = set()  # the Name nodes that are the function of a call
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not (
                isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS and not node.keywords
            ):
                raise FormulaError("not_allowed", "call")
            least, most = _ARITY[node.func.id]
            if len(node.args) < least or (most is not None and len(node.args) > most):
                raise FormulaError("arguments", f"{node.func.id}()")
            called.add(id(node.func))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if node.id in _FUNCTIONS:
                if id(node) not in called:  # ``max + 1``: a function is not a value
                    raise FormulaError("not_allowed", node.id)
                continue
            if node.id not in allowed:
                raise FormulaError("unknown_name", node.id)
            names.add(node.id)
        elif not isinstance(node, _ALLOWED_NODES):
            raise FormulaError("not_allowed", type(node).__name__)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, int | float):
                raise FormulaError("not_allowed", repr(node.value)[:40])
            try:
                _finite(float(node.value))
            except (FormulaError, OverflowError):
                raise FormulaError("too_large", _source(normalised, node)) from None
    return Formula(text=text, tree=tree, names=frozenset(names))


_ALLOWED_NODES = (
    ast.Expression,
    ast.BinOp,
    ast.UnaryOp,
    ast.BoolOp,
    ast.Compare,
    ast.IfExp,
    ast.Call,
    ast.Name,
    ast.Constant,
    ast.Load,
    ast.And,
    ast.Or,
    *_BINARY,
    *_UNARY,
    *_COMPARE,
)


def _depth(root: ast.AST) -> int:
    """How deeply sub-expressions nest (without recursion: the tree may be deep)."""
    deepest = 0
    pending = [(root, 1)]
    while pending:
        node, level = pending.pop()
        deepest = max(deepest, level)
        if deepest > MAX_FORMULA_DEPTH:
            break
        pending.extend(
            (child, level + 1)
            for child in ast.iter_child_nodes(node)
            if isinstance(child, ast.expr)
        )
    return deepest


def _source(text: str, node: ast.AST) -> str:
    segment = ast.get_source_segment(text, node) or ""
    return segment if len(segment) <= 40 else segment[:37] + "..."


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise FormulaError("overflow")
    return value


def _evaluate(node: ast.AST, values: Mapping[str, float]) -> float:
    match node:
        case ast.Constant(value=value):
            return float(value)
        case ast.Name(id=name):
            return values[name]
        case ast.BinOp(left=left, op=op, right=right):
            try:
                result = _BINARY[type(op)](_evaluate(left, values), _evaluate(right, values))
            except ZeroDivisionError:
                raise FormulaError("division_by_zero") from None
            return _finite(result)
        case ast.UnaryOp(op=op, operand=operand):
            return float(_UNARY[type(op)](_evaluate(operand, values)))
        case ast.BoolOp(op=ast.And(), values=operands):
            return float(all(_evaluate(v, values) for v in operands))
        case ast.BoolOp(op=ast.Or(), values=operands):
            return float(any(_evaluate(v, values) for v in operands))
        case ast.Compare(left=left, ops=ops, comparators=comparators):
            current = _evaluate(left, values)
            for op, comparator in zip(ops, comparators, strict=True):
                following = _evaluate(comparator, values)
                if not _COMPARE[type(op)](current, following):
                    return 0.0
                current = following
            return 1.0
        case ast.IfExp(test=test, body=body, orelse=orelse):
            return _evaluate(body if _evaluate(test, values) else orelse, values)
        case ast.Call(func=ast.Name(id=name), args=args):
            return _finite(float(_FUNCTIONS[name](*(_evaluate(a, values) for a in args))))
    raise FormulaError("not_allowed", type(node).__name__)
