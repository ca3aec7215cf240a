"""Reading the Bundesbank's SDMX-CSV answer: only January and July become rows; what is not one is refused by line."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from mahnwerk.connectors.bundesbank import PublishedRate, half_year_rates

HEAD = "DATAFLOW,FREQ,REF_AREA,TIME_PERIOD,OBS_VALUE,OBS_STATUS\n"


def test_only_january_and_july_observations_become_rows() -> None:
    """Monthly observations repeat the half-year's rate; February … June and August … December are dropped, a month
    without a value yet is skipped."""
    text = HEAD + "".join(f"BBK:BBIN1(1.0),M,DE,2026-{m:02d},{'1.27' if m < 7 else '1.02'},A\n" for m in range(1, 12))
    text += "BBK:BBIN1(1.0),M,DE,2026-12,,\n"
    assert half_year_rates(text) == [PublishedRate(date(2026, 1, 1), Decimal("1.27")),
                                     PublishedRate(date(2026, 7, 1), Decimal("1.02"))]


def test_negative_rates_are_read_as_published() -> None:
    assert half_year_rates(HEAD + "X,M,DE,2016-07,-0.88,A\n") == [PublishedRate(date(2016, 7, 1), Decimal("-0.88"))]


@pytest.mark.parametrize(("text", "message"), [
    ("", "no SDMX-CSV header"),
    ("<html>Wartung</html>\n", "no SDMX-CSV header with TIME_PERIOD and OBS_VALUE"),
    (HEAD + "X,M,DE,2026-13,1.27,A\n", "line 2: TIME_PERIOD '2026-13' is not a month"),
    (HEAD + "X,M,DE,2026-01,1;27,A\n", "line 2: OBS_VALUE '1;27' is not a number"),
    (HEAD + "X,M,DE,2026-01,127,A\n", "line 2: OBS_VALUE '127' is not a base rate in percent"),
    (HEAD + "X,M\n", "line 2: 2 columns, the header has 6"),
    (HEAD + "X,M,DE,2026-02,1.27,A\n", "no observation for a January or July"),
])
def test_a_malformed_answer_is_refused_naming_the_line(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        half_year_rates(text)
