"""Safe evaluation of the plan's reward and penalty formulas (奖惩公式).

Plans carry formulas such as ``1000 + (target − score) × 200``. They are plan text, so they are
never handed to Python's ``eval``: the expression is parsed into an AST and only arithmetic,
comparisons, boolean logic, conditionals, a few pure functions and the documented names pass.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

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
_FUNCTIONS: dict[str, Callable[..., float]] = {
    "min": min,
    "max": max,
    "abs": abs,
    "round": round,
    "floor": math.floor,
    "ceil": math.ceil,
}


class FormulaError(ValueError):
    """The formula text is not one we can evaluate safely; ``reason`` names the template key."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Formula:
    """A parsed formula: validate once at plan load, evaluate many times."""

    text: str
    tree: ast.Expression
    names: frozenset[str]

    def evaluate(self, values: Mapping[str, float]) -> float:
        missing = self.names - values.keys()
        if missing:
            raise FormulaError("unknown_name", ", ".join(sorted(missing)))
        return _evaluate(self.tree.body, values)


def parse_formula(text: str, allowed_names: Iterable[str]) -> Formula:
    """Parse ``text``; raise FormulaError on anything beyond arithmetic and ``allowed_names``."""
    normalised = text.translate(_TYPOGRAPHIC).strip()
    if not normalised:
        raise FormulaError("empty")
    try:
        tree = ast.parse(normalised, mode="eval")
    except SyntaxError as exc:
        raise FormulaError("syntax", str(exc.msg)) from None
    allowed = frozenset(allowed_names)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if node.id in _FUNCTIONS:
                continue
            if node.id not in allowed:
                raise FormulaError("unknown_name", node.id)
            names.add(node.id)
        elif not isinstance(node, _ALLOWED_NODES):
            raise FormulaError("not_allowed", type(node).__name__)
        if isinstance(node, ast.Call) and not (
            isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS and not node.keywords
        ):
            raise FormulaError("not_allowed", "call")
        if isinstance(node, ast.Constant) and (
            isinstance(node.value, bool) or not isinstance(node.value, int | float)
        ):
            raise FormulaError("not_allowed", repr(node.value))
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


def _evaluate(node: ast.AST, values: Mapping[str, float]) -> float:
    match node:
        case ast.Constant(value=value):
            return value
        case ast.Name(id=name):
            return values[name]
        case ast.BinOp(left=left, op=op, right=right):
            try:
                return _BINARY[type(op)](_evaluate(left, values), _evaluate(right, values))
            except ZeroDivisionError:
                raise FormulaError("division_by_zero") from None
        case ast.UnaryOp(op=op, operand=operand):
            return _UNARY[type(op)](_evaluate(operand, values))
        case ast.BoolOp(op=ast.And(), values=operands):
            return all(_evaluate(v, values) for v in operands)
        case ast.BoolOp(op=ast.Or(), values=operands):
            return any(_evaluate(v, values) for v in operands)
        case ast.Compare(left=left, ops=ops, comparators=comparators):
            current = _evaluate(left, values)
            for op, comparator in zip(ops, comparators, strict=True):
                following = _evaluate(comparator, values)
                if not _COMPARE[type(op)](current, following):
                    return False
                current = following
            return True
        case ast.IfExp(test=test, body=body, orelse=orelse):
            return _evaluate(body if _evaluate(test, values) else orelse, values)
        case ast.Call(func=ast.Name(id=name), args=args):
            return _FUNCTIONS[name](*(_evaluate(a, values) for a in args))
    raise FormulaError("not_allowed", type(node).__name__)
