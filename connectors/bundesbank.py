"""The German base rate (Basiszinssatz, §247 BGB) from the Deutsche Bundesbank's statistics web service.

What the service is, from its documentation (read 2026-12-06; this machine has no internet, so nothing here was
tried against the live service):
- "Bundesbank SDMX Web Service API", base path https://api.statistiken.bundesbank.de/rest, endpoint
  /data/{flowRef}/{key}; return formats BBK-CSV, SDMX-CSV, SDMX-ML 2.1 and SDMX-JSON (default JSON); the `format`
  query parameter takes precedence over the Accept header
  (https://www.bundesbank.de/en/statistics/time-series-databases/help-for-sdmx-web-service/web-service-interface-data,
  https://statistiken.bundesbank.de/statistiken-en/help-991452?article=use-of-the-bundesbank-sdmx-web-service-api-991448).
- The base rate is flow BBIN1, key M.DE.BBK.BBKBAS2.EUR.ME ("Base rate as per Civil Code"), monthly: one
  observation per month, the rate at the end of that month (as public clients of the series read it, e.g. a PHP
  invoicing service and a Supabase function found by code search, both calling exactly this URL).
- `format=sdmx_csv` answers SDMX-CSV: a header row, then one row per observation; the columns TIME_PERIOD ("2026-01"
  for a month) and OBS_VALUE ("1.27") are fixed by the SDMX-CSV standard (a public Python client reads OBS_VALUE by
  name from this service's sdmx_csv answer). Which dimension columns come before them does not matter here: the
  parser reads the two columns by name. (BBK-CSV, `format=csv`, is the Bundesbank's own layout with quoted header
  lines and a decimal comma in German; SDMX-CSV avoids both.)

The rate changes on 1 January and 1 July only, so only the January and July observations become rows; the other
months repeat them. No retries: `rates update` runs daily in the first two weeks of January and July anyway.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

import requests

from mahnwerk.connectors.http import USER_AGENT, network_problem, read_body, redact_url
from mahnwerk.errors import MahnwerkError

BUNDESBANK_URL = "https://api.statistiken.bundesbank.de/rest/data/BBIN1/M.DE.BBK.BBKBAS2.EUR.ME?format=sdmx_csv"
SDMX_CSV = "application/vnd.sdmx.data+csv;version=1.0.0"


class RatesUnavailable(MahnwerkError):
    """Raised when the central bank's series cannot be read: offline, refused, an error status, a slow or malformed
    answer. Its message is one line naming the URL and the cause; nothing was changed."""


@dataclass(frozen=True, slots=True)
class PublishedRate:
    """A base rate the central bank publishes for the half-year that starts on `valid_from`."""

    valid_from: date
    rate: Decimal


def fetch_base_rates(url: str = BUNDESBANK_URL, *, timeout: float = 30.0) -> list[PublishedRate]:
    """The published half-year rates, oldest first; RatesUnavailable with the URL and the cause."""
    shown = redact_url(url)
    try:
        response = requests.get(url, headers={"Accept": SDMX_CSV, "User-Agent": USER_AGENT},
                                timeout=(min(10.0, timeout), timeout), stream=True)
        body = read_body(response)
        response.close()
    except (requests.RequestException, OSError) as exc:
        cause = network_problem(exc) if isinstance(exc, requests.RequestException) else str(exc)
        raise RatesUnavailable(f"Bundesbank {shown}: {cause}") from exc
    if not 200 <= response.status_code < 300:
        first = body.decode("utf-8", "replace").strip().splitlines()[:1]
        detail = f" ({first[0][:120]})" if first else ""
        raise RatesUnavailable(f"Bundesbank {shown}: HTTP {response.status_code}{detail}")
    try:
        return half_year_rates(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise RatesUnavailable(f"Bundesbank {shown}: malformed answer: {exc}") from exc


def half_year_rates(text: str) -> list[PublishedRate]:
    """The January and July observations of an SDMX-CSV answer as rows for 1 January and 1 July; ValueError names
    what is wrong (a missing column, a period or value that is not one, no observation at all)."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or "TIME_PERIOD" not in rows[0] or "OBS_VALUE" not in rows[0]:
        raise ValueError("no SDMX-CSV header with TIME_PERIOD and OBS_VALUE")
    period_at, value_at = rows[0].index("TIME_PERIOD"), rows[0].index("OBS_VALUE")
    found: dict[date, Decimal] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(period_at, value_at):
            raise ValueError(f"line {number}: {len(row)} columns, the header has {len(rows[0])}")
        period, value = row[period_at].strip(), row[value_at].strip()
        try:
            year, month = (int(part) for part in period.split("-"))
            start = date(year, month, 1)
        except ValueError:
            raise ValueError(f"line {number}: TIME_PERIOD {period!r} is not a month like 2026-01") from None
        if value in ("", "NaN", "."):  # no observation (yet) for this month
            continue
        try:
            rate = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"line {number}: OBS_VALUE {value!r} is not a number") from None
        if not rate.is_finite() or abs(rate) >= 100:
            raise ValueError(f"line {number}: OBS_VALUE {value!r} is not a base rate in percent")
        if month in (1, 7):
            found[start] = rate
    if not found:
        raise ValueError("no observation for a January or July")
    return [PublishedRate(start, found[start]) for start in sorted(found)]
