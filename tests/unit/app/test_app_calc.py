"""The calculator's pure core: exact answers, bounded work, 4xx for every bad input."""

from __future__ import annotations

import math
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stateline.app.errors import ApiError
from stateline.app.services.calc import INT64_MAX, compute
from stateline.app.validate import query_number


@pytest.mark.parametrize(("op", "a", "b", "expected"), [
    ("add", 2, 3, 5),
    ("sub", 2, 3, -1),
    ("mul", 4, 2.5, 10.0),
    ("div", 6, 3, 2),
    ("div", 1, 4, 0.25),
    ("pow", 2, 10, 1024),
    ("pow", 2, -1, 0.5),
    ("pow", -2, 3, -8),
    ("pow", 0.5, 2000, 0.0),
    ("pow", 1, 10**60, 1),
    ("pow", -1, 10**60 + 1, -1),
])
def test_compute_gives_the_arithmetic_answer(op: str, a: float, b: float, expected: float) -> None:
    assert compute(op, a, b) == expected


def test_integer_operands_keep_an_integer_result_while_it_fits_int64() -> None:
    assert isinstance(compute("add", 2, 3), int)
    assert isinstance(compute("div", 1, 4), float)
    assert compute("mul", INT64_MAX, 2) == float(INT64_MAX * 2)


@pytest.mark.parametrize(("op", "a", "b", "code"), [
    ("div", 1, 0, "division_by_zero"),
    ("div", 1.5, 0.0, "division_by_zero"),
    ("pow", 0, -1, "division_by_zero"),
    ("pow", -8, 0.5, "domain_error"),
    ("pow", 10, 100_000_000, "result_out_of_range"),
    ("pow", 2, 1024, "result_out_of_range"),
    ("mul", 1e300, 1e300, "result_out_of_range"),
    ("add", 1.7e308, 1.7e308, "result_out_of_range"),
    ("div", 1e300, 1e-300, "result_out_of_range"),
])
def test_bad_arithmetic_is_a_400_with_a_code(op: str, a: float, b: float, code: str) -> None:
    with pytest.raises(ApiError) as info:
        compute(op, a, b)
    assert (info.value.status, info.value.code) == (400, code)


def test_unknown_operation_is_a_404() -> None:
    with pytest.raises(ApiError) as info:
        compute("mod", 1, 2)
    assert info.value.status == 404


def test_huge_pow_is_refused_before_any_work() -> None:
    start = time.perf_counter()
    for exponent in (10**8, 10**18, 10**63):
        with pytest.raises(ApiError):
            compute("pow", 10, exponent)
    assert time.perf_counter() - start < 0.05  # refused by arithmetic on logs, not by computing


_numbers = st.one_of(
    st.integers(min_value=-(10**63), max_value=10**63),
    st.floats(allow_nan=False, allow_infinity=False),
)


@given(op=st.sampled_from(["add", "sub", "mul", "div", "pow"]), a=_numbers, b=_numbers)
def test_any_finite_operands_give_a_finite_result_or_a_400(op: str, a: float, b: float) -> None:
    try:
        result = compute(op, a, b)
    except ApiError as exc:
        assert exc.status == 400
    else:
        assert math.isfinite(result)
        if isinstance(result, int):
            assert abs(result) <= INT64_MAX


@given(text=st.text(max_size=80))
def test_query_number_parses_or_refuses_any_text_with_a_400(text: str) -> None:
    try:
        value = query_number(text, "a")
    except ApiError as exc:
        assert exc.status == 400
    else:
        assert math.isfinite(value)


@pytest.mark.parametrize("raw", ["nan", "NaN", "inf", "-Infinity", "1e400", "abc", "", "1" * 65])
def test_query_number_refuses_non_finite_and_non_numbers(raw: str) -> None:
    with pytest.raises(ApiError):
        query_number(raw, "a")


def test_query_number_keeps_integers_integral() -> None:
    assert query_number("42", "a") == 42
    assert isinstance(query_number("42", "a"), int)
    assert query_number("2.5", "a") == 2.5


@pytest.mark.parametrize(("raw", "expected"), [
    ("0", 0), ("-7", -7), ("+7", 7), ("1.5", 1.5), ("-.5", -0.5), ("1.", 1.0),
    ("2e3", 2000.0), ("2E-3", 0.002), ("-1.5e+2", -150.0), ("007", 7),
])
def test_query_number_accepts_ascii_decimal_and_scientific_notation(
    raw: str, expected: float
) -> None:
    assert query_number(raw, "a") == expected


@pytest.mark.parametrize("raw", [
    "\uff11",           # fullwidth 1
    "\u0661",           # Arabic-Indic 1
    "\u00b2",           # superscript 2
    "1_000",             # Python's digit separator
    " 1", "1 ", "\t1",  # surrounding space
    "0x10", "1e", "e5", ".", "-", "+-1", "1.2.3", "1e5.5", "\u22121",
])
def test_query_number_refuses_anything_but_ascii_notation_as_invalid_number(raw: str) -> None:
    with pytest.raises(ApiError) as info:
        query_number(raw, "a")
    assert (info.value.status, info.value.code) == (400, "invalid_number")


def test_int64_results_reach_both_bounds_exactly() -> None:
    assert compute("add", -(2**63) + 1, -1) == -(2**63)
    assert isinstance(compute("add", -(2**63) + 1, -1), int)
    assert compute("pow", -2, 63) == -(2**63)
    assert isinstance(compute("pow", -2, 63), int)
    assert compute("add", INT64_MAX - 1, 1) == INT64_MAX
    assert isinstance(compute("add", INT64_MAX - 1, 1), int)
    # One past either bound becomes a float.
    assert isinstance(compute("sub", -(2**63), 1), float)
    assert isinstance(compute("add", INT64_MAX, 1), float)
