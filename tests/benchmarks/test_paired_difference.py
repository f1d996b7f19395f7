"""The bench's round-by-round comparison: the mean difference of pairs and its standard error."""

from __future__ import annotations

import math

import pytest

from benchmarks.children import paired_difference


def test_pairs_taken_in_the_same_round_cancel_what_the_round_shares() -> None:
    # Each round's machine noise (0, 40, 80 ms) lands on both; the change is 5 ms every round.
    these = [{"ms": 105.0}, {"ms": 145.0}, {"ms": 185.0}]
    those = [{"ms": 100.0}, {"ms": 140.0}, {"ms": 180.0}]

    mean, error = paired_difference(these, those, lambda report: report["ms"])

    assert (mean, error) == (5.0, 0.0)


def test_the_standard_error_is_that_of_the_differences() -> None:
    mean, error = paired_difference(
        [{"ms": 10.0}, {"ms": 14.0}], [{"ms": 0.0}, {"ms": 0.0}], lambda report: report["ms"]
    )

    assert mean == 12.0
    assert error == pytest.approx(math.sqrt(8) / math.sqrt(2))


def test_one_round_has_no_error_and_unequal_rounds_are_refused() -> None:
    mean, error = paired_difference([{"ms": 3.0}], [{"ms": 1.0}], lambda report: report["ms"])

    assert mean == 2.0 and math.isnan(error)
    with pytest.raises(ValueError):
        paired_difference([{"ms": 1.0}], [], lambda report: report["ms"])
