"""What one poll of a payment provider (Stripe, Mollie) returns: the payments, the unreadable objects, the cursor."""

from __future__ import annotations

from dataclasses import dataclass, field

from mahnwerk.connectors.payment_records import IncomingPayment, SourceProblem

CURSOR_MAX = 500  # characters; a cursor never gets longer, so the store can keep it in a bounded column


@dataclass(frozen=True, slots=True)
class ProviderPoll:
    """The result of `poll(cursor)`.

    `cursor` is opaque, at most CURSOR_MAX characters: store it and pass it to the next poll. A payment may be
    reported again by a later poll
    (overlapping windows are how late arrivals are caught), so the receiver dedupes on `IncomingPayment.ref`.
    `skipped` counts objects read but deliberately not reported, by reason ("paid_out_of_band", "not_paid", ...).
    """

    payments: list[IncomingPayment]
    problems: list[SourceProblem]
    cursor: str
    requests: int
    skipped: dict[str, int] = field(default_factory=dict)


def count(skipped: dict[str, int], reason: str) -> None:
    """Add one to `skipped[reason]`."""
    skipped[reason] = skipped.get(reason, 0) + 1
