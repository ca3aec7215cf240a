"""Today's letters to print: the notices the executor wrote as PDF letters during the shop's calendar day (the
letter channel, or the fallback for a customer without a usable e-mail address), and all of them merged into one
PDF, so a person prints the day's post in one go."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from pypdf import PdfReader, PdfWriter
from sqlalchemy import select
from sqlmodel import col

from mahnwerk.sync.casework.casefile import claim_key
from mahnwerk.sync.casework.planner import shop_today
from mahnwerk.sync.config import ShopConfig
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import Claim, OutboxRow, OutboxState


@dataclass(frozen=True, slots=True)
class LetterToPrint:
    """One letter written today: for which claim and stage, where its PDF is, and whether the file is there."""

    row_id: int
    claim: str
    stage: str
    customer: str
    path: Path
    written_at: datetime

    @property
    def present(self) -> bool:
        return self.path.is_file()


def todays_letters(store: Store, shops: Sequence[ShopConfig], now: datetime) -> list[LetterToPrint]:
    """The letters written on each shop's calendar day of `now`, in the order they were written."""
    letters: list[LetterToPrint] = []
    with store.session() as session:
        for shop in shops:
            start = datetime.combine(shop_today(shop, now), time(0), tzinfo=shop.timezone).astimezone(UTC)
            found = session.execute(select(OutboxRow, Claim).join(Claim, col(Claim.id) == OutboxRow.claim_id).where(
                col(OutboxRow.shop_id) == shop.id, col(OutboxRow.state) == OutboxState.DONE,
                col(OutboxRow.done_at) >= start, col(OutboxRow.done_at) < start + timedelta(days=1))
                .order_by(col(OutboxRow.done_at), col(OutboxRow.id))).all()
            # Which rows went out as letters is in the payload (the channel used), not a column: filtered here.
            letters += [LetterToPrint(row.id or 0, claim_key(shop.id, claim.order_number), row.stage,
                                      claim.customer_name, Path(row.payload["letter_path"]), row.done_at or now)
                        for row, claim in found
                        if row.payload.get("channel_used") == "letter" and row.payload.get("letter_path")]
    return letters


def merge_letters(paths: Sequence[Path]) -> bytes:
    """The PDFs at `paths` as one PDF, every page of each in order."""
    merged = PdfWriter()
    for path in paths:
        merged.append(PdfReader(path))
    out = io.BytesIO()
    merged.write(out)
    return out.getvalue()
