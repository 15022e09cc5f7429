"""The formula evaluator under attack (security issue #10): whatever the text and the values,
parsing and evaluating raise nothing but FormulaError with a reason that has a template in both
languages, and evaluation never returns an infinite or NaN number."""

from __future__ import annotations

import math
import time
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.formula import (
    MAX_FORMULA_DEPTH,
    MAX_FORMULA_LENGTH,
    Formula,
    FormulaError,
    parse_formula,
)
from campaigns.schema import ASSESSMENT_NAMES, AWARD_NAMES, DEED_NAMES
from kernel import Text
from messages import Renderer

RENDER = Renderer()
ALL_NAMES = DEED_NAMES + ASSESSMENT_NAMES + AWARD_NAMES
ZERO_DAYS = {"amount": 3000.0, "days": 0.0, "level": 1.0, "people": 2.0}


def refusal(text: str, values: dict[str, float] | None = None) -> FormulaError:
    """The FormulaError that parsing (or, given values, evaluating) ``text`` raises."""
    with pytest.raises(FormulaError) as raised:
        formula = parse_formula(text, DEED_NAMES)
        if values is not None:
            formula.evaluate(values)
    return raised.value


def assert_explained(error: FormulaError) -> None:
    """The reason is a template in both languages, and renders with the error's data."""
    for locale in ("zh", "en"):
        assert RENDER.has(f"formula_reason/{error.reason}", locale), error.reason
        shown = RENDER.render(Text(f"formula_reason/{error.reason}", error.template_data()), locale)
        assert shown


# --- the attacks, one by one ---------------------------------------------------------------------


def test_division_by_zero_is_a_formula_error_at_evaluation() -> None:
    formula = parse_formula("amount / days", DEED_NAMES)  # parsing alone cannot know
    with pytest.raises(FormulaError) as raised:
        formula.evaluate(ZERO_DAYS)
    assert raised.value.reason == "division_by_zero"
    for text in ("amount // days", "amount % days", "floor(amount / days)"):
        assert refusal(text, ZERO_DAYS).reason == "division_by_zero"


@pytest.mark.parametrize("text", ["max()", "min()", "max(1)", "abs()", "abs(1, 2)", "round()"])
def test_a_function_with_the_wrong_number_of_values_is_refused_at_parsing(text: str) -> None:
    error = refusal(text)
    assert (error.reason, error.detail) == ("arguments", text.split("(")[0] + "()")
    assert_explained(error)


@pytest.mark.parametrize("text", ["1e309", "1e309 - 1e309", "-1e309", "9" * 400])
def test_a_number_too_large_for_a_float_is_refused_at_parsing(text: str) -> None:
    error = refusal(text)
    assert error.reason == "too_large"
    assert_explained(error)


def test_inf_is_not_a_name() -> None:
    assert (refusal("inf - inf").reason, refusal("inf - inf").detail) == ("unknown_name", "inf")
    assert refusal("nan").reason == "unknown_name"


@pytest.mark.parametrize(
    "text",
    ["1e308 * 10", "amount * 1e300", "1e308 + 1e308", "1e308 // 1e-308", "-1e308 / 1e-308"],
)
def test_an_overflow_is_a_formula_error_never_inf(text: str) -> None:
    error = refusal(text, {"amount": 1e9, "days": 1, "level": 1, "people": 1})
    assert error.reason == "overflow"
    assert_explained(error)


def test_a_value_that_is_not_finite_is_refused() -> None:
    formula = parse_formula("amount + 1", DEED_NAMES)
    for bad in (math.inf, -math.inf, math.nan, "12", None):
        with pytest.raises(FormulaError) as raised:
            formula.evaluate({**ZERO_DAYS, "amount": bad})  # type: ignore[dict-item]
        assert (raised.value.reason, raised.value.detail) == ("not_finite", "amount")


def test_round_takes_a_whole_number_of_digits_within_bounds() -> None:
    assert parse_formula("round(amount / 3, 2)", DEED_NAMES).evaluate(ZERO_DAYS) == 1000.0
    assert parse_formula("round(amount, -3)", DEED_NAMES).evaluate(ZERO_DAYS) == 3000.0
    for text in ("round(1, 0.5)", "round(1, 1e9)", "round(1, -99)"):
        error = refusal(text, ZERO_DAYS)
        assert error.reason == "round_digits"
        assert_explained(error)


def test_a_too_long_formula_is_refused_with_the_limit() -> None:
    long_sum = " + ".join(["amount"] * 2000)  # "long sums end validation in a traceback"
    error = refusal(long_sum)
    assert (error.reason, error.limit) == ("too_long", MAX_FORMULA_LENGTH)
    assert error.detail == str(len(long_sum))
    assert_explained(error)
    assert str(MAX_FORMULA_LENGTH) in RENDER.render(
        Text("formula_reason/too_long", error.template_data()), "en"
    )


@pytest.mark.parametrize(
    "text",
    [
        "-" * 300 + "1",
        "not " * 100 + "1",
        "(" * 60 + "1" + " + 1)" * 60,
        "-(" * 80 + "1" + ")" * 80,
        "+".join(["1"] * 60),
        "max(1, " * 60 + "1" + ")" * 60,
    ],
)
def test_deep_nesting_is_refused_with_a_reason_not_a_recursion_error(text: str) -> None:
    assert len(text) <= MAX_FORMULA_LENGTH
    error = refusal(text)
    assert error.reason in ("too_deep", "syntax"), error  # Python's parser may stop it first
    assert_explained(error)


def test_nesting_up_to_the_limit_still_works() -> None:
    text = "+".join(["1"] * MAX_FORMULA_DEPTH)  # a sum of n terms nests n deep
    assert parse_formula(text, DEED_NAMES).evaluate({}) == MAX_FORMULA_DEPTH
    assert refusal(f"1+{text}").reason == "too_deep"
    # brackets alone do not nest anything
    assert parse_formula("(" * 150 + "1" + ")" * 150, DEED_NAMES).evaluate({}) == 1


@pytest.mark.parametrize(
    "text",
    [
        "max + 1",
        "__import__('os')",
        "amount.real",
        "amount[0]",
        "amount ** 2",
        "lambda: 1",
        "'text'",
        "True",
        "max(*[1, 2])",
        "round(amount, ndigits=2)",
        "[1][0]",
        "(x := 1)",
        "amount if days",
        "\x00",
        "\ud800",
        "１ + ",
    ],
)
def test_anything_outside_the_grammar_is_a_formula_error(text: str) -> None:
    assert_explained(refusal(text))


def test_a_condition_gives_one_or_zero_and_results_are_floats() -> None:
    assert parse_formula("days > 0 and amount > 0", DEED_NAMES).evaluate(ZERO_DAYS) == 0.0
    assert parse_formula("not days", DEED_NAMES).evaluate(ZERO_DAYS) == 1.0
    value = parse_formula("floor(amount / 7)", DEED_NAMES).evaluate(ZERO_DAYS)
    assert (value, type(value)) == (428.0, float)


# --- hostile input, generated -------------------------------------------------------------------

NAMES = st.sampled_from(DEED_NAMES)
NUMBERS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["0", "0.0", "1e308", "1e309", "1e-320", "9" * 320, "0x10", "1_000"]),
)
FUNCTIONS = st.sampled_from(["min", "max", "abs", "round", "floor", "ceil"])
BINARY = st.sampled_from(
    ["+", "-", "*", "/", "//", "%", "×", "÷", "−", "<", "<=", ">", ">=", "==", "!=", "and", "or"]
)


def _compound(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, BINARY, children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(["-", "+", "not "]), children).map(lambda t: f"({t[0]}{t[1]})"),
        st.tuples(children, children, children).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
        st.tuples(FUNCTIONS, st.lists(children, max_size=3)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})"
        ),
    )


# Expression trees within the grammar (and a little beyond it: wrong arities, huge numbers).
EXPRESSIONS = st.recursive(st.one_of(NAMES, NUMBERS), _compound, max_leaves=60)
VALUES = st.fixed_dictionaries(
    {
        name: st.one_of(
            st.sampled_from([0.0, 1.0, -1.0, 1e9, 1e308, -1e308, 5e-324]),
            st.floats(allow_nan=False, allow_infinity=False),
            st.integers(min_value=-(10**12), max_value=10**12),
        )
        for name in DEED_NAMES
    }
)
TOKENS = st.sampled_from(
    [
        *DEED_NAMES,
        *"()+-*/%<>=!,.[]{}'\":;@~^&|",
        "（",
        "）",
        "×",
        "÷",
        "−",
        "**",
        "//",
        " if ",
        " else ",
        " and ",
        " or ",
        " not ",
        " lambda ",
        "__import__",
        "__class__",
        "min",
        "max",
        "round",
        "1e308",
        "1e309",
        "0",
        "9" * 50,
        " ",
        "\n",
        "\t",
        "\\",
    ]
)
# Text as a plan may hold it: any unicode (lone surrogates included), or grammar-ish tokens.
HOSTILE_TEXT = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=300),
    st.lists(TOKENS, max_size=80).map("".join),
    EXPRESSIONS,
)
FUZZ = settings(
    max_examples=300, deadline=timedelta(seconds=1), suppress_health_check=[HealthCheck.too_slow]
)


def _parse_and_evaluate(text: str, values: dict[str, float]) -> None:
    """Parse and evaluate; only FormulaError (explained) or a finite float may come out."""
    started = time.perf_counter()
    try:
        formula = parse_formula(text, DEED_NAMES)
    except FormulaError as error:
        assert_explained(error)
        return
    assert isinstance(formula, Formula)
    assert formula.names <= set(DEED_NAMES)
    try:
        result = formula.evaluate(values)
    except FormulaError as error:
        assert_explained(error)
    else:
        assert isinstance(result, float)
        assert math.isfinite(result), (text, values, result)
    assert time.perf_counter() - started < 0.5


@FUZZ
@given(text=EXPRESSIONS, values=VALUES)
def test_random_expression_trees_give_a_finite_number_or_a_formula_error(
    text: str, values: dict[str, float]
) -> None:
    _parse_and_evaluate(text, values)


@FUZZ
@given(text=HOSTILE_TEXT, values=VALUES)
def test_random_text_gives_a_finite_number_or_a_formula_error(
    text: str, values: dict[str, float]
) -> None:
    _parse_and_evaluate(text, values)


@FUZZ
@given(text=HOSTILE_TEXT)
def test_random_text_checked_as_any_kind_of_formula_never_raises_anything_else(text: str) -> None:
    for names in (DEED_NAMES, ASSESSMENT_NAMES, AWARD_NAMES, ()):
        try:
            parse_formula(text, names)
        except FormulaError as error:
            assert_explained(error)
