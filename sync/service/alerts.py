"""Alert mails (`[alerts] email`): the daemon tells a person when a shop needs one.

Three problems, looked at after each shop tick (under the shop's lock, so daemons never mail twice):
`failed_syncs` (the last `failed_syncs` syncs all failed), `dead_letters` (outbox rows given up) and `rate_missing`
(claims whose notices wait for a base rate). A problem is mailed when it begins, again at most once a day while it
lasts, and once more when it clears. The state is the `alerts` table, so a restart neither forgets nor repeats.
Mails go through the shop's own [smtp] when it has one, else through the first shop's that has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import func, select
from sqlmodel import col

from mahnwerk.connectors.smtp import build_message, message_id_for, send
from mahnwerk.errors import MahnwerkError
from mahnwerk.sync.casework.blocked import FIX
from mahnwerk.sync.config import ShopConfig
from mahnwerk.sync.config.shop import AlertsConfig
from mahnwerk.sync.outbox.notices import smtp_settings
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import AlertState, OutboxRow, OutboxState, SyncRun

log = structlog.get_logger("mahnwerk.alerts")
REPEAT = timedelta(days=1)  # at most one mail per problem and day


@dataclass(frozen=True, slots=True)
class Problem:
    """One kind of trouble: whether the shop has it now, and the words for the mail."""

    name: str
    active: bool
    detail: str  # what is wrong and what to do; for the mail, without customer data


class Alerts:
    """Looks at a shop after its tick and mails the changes (`check`)."""

    def __init__(self, store: Store, settings: AlertsConfig, shops: Sequence[ShopConfig]) -> None:
        self.store, self.settings = store, settings
        self.fallback = next((shop for shop in shops if shop.smtp.configured), None)

    def warn_without_smtp(self) -> None:
        """No shop has an [smtp] table: alerts cannot be sent; the daemon says so when it starts."""
        if self.fallback is None:
            log.warning("alerts.no_smtp", email=self.settings.email,
                        fix="configure [smtp] in a shop file: alert mails go through it")

    def check(self, shop: ShopConfig, *, blocked: int | None, now: datetime) -> None:
        """Mail what began, what still lasts after a day, and what cleared. `blocked`: the claims waiting for a
        base rate (None: not counted yet, so that problem stays as it is)."""
        for problem in self.problems(shop, blocked):
            self._follow(shop, problem, now)

    def problems(self, shop: ShopConfig, blocked: int | None) -> list[Problem]:
        n = self.settings.failed_syncs
        with self.store.session() as session:
            last = session.execute(select(col(SyncRun.outcome), col(SyncRun.error)).where(
                col(SyncRun.shop_id) == shop.id, col(SyncRun.outcome) != "running")
                .order_by(col(SyncRun.id).desc()).limit(n)).all()
            dead = session.execute(select(func.count()).select_from(OutboxRow).where(
                col(OutboxRow.shop_id) == shop.id, col(OutboxRow.state) == OutboxState.DEAD)).scalar_one()
        failing = len(last) == n and all(outcome == "failed" for outcome, _ in last)
        found = [
            Problem("failed_syncs", failing, f"The last {n} syncs of shop '{shop.id}' failed; the newest error: "
                    f"{last[0][1] if last else ''}\nRun `mahnwerk check --shop {shop.id}`."),
            Problem("dead_letters", dead > 0, f"{dead} outbox row(s) of shop '{shop.id}' were given up (dead "
                    f"letters): nothing more is sent for them.\nSee `mahnwerk status --shop {shop.id}`, then "
                    "`mahnwerk outbox retry|done|skip ID`."),
        ]
        if blocked is not None:
            found.append(Problem("rate_missing", blocked > 0, f"{blocked} claim(s) of shop '{shop.id}' wait for a "
                                 f"base rate: no dunning notice with interest until it is known.\nRun `{FIX}`."))
        return found

    def _follow(self, shop: ShopConfig, problem: Problem, now: datetime) -> None:
        with self.store.session() as session:
            state = session.get(AlertState, (shop.id, problem.name))
            if problem.active:
                state = state or AlertState(shop_id=shop.id, problem=problem.name, opened_at=now)
                state.detail = problem.detail[:2000]
                session.add(state)
                if (state.mailed_at is None or now - state.mailed_at >= REPEAT) and self._mail(
                        shop, problem, now, body=problem.detail,
                        subject=f"shop '{shop.id}': {TITLES[problem.name]}" + (" (still)" if state.mailed_at else "")):
                    state.mailed_at = now
            elif state is not None and (state.mailed_at is None or self._mail(
                    shop, problem, now, subject=f"shop '{shop.id}': resolved: {TITLES[problem.name]}",
                    body=f"Resolved: {TITLES[problem.name]} (since {state.opened_at:%Y-%m-%d %H:%M} UTC).\n")):
                session.delete(state)  # cleared: one mail said so (none if the problem's never went out)
            session.commit()

    def _mail(self, shop: ShopConfig, problem: Problem, now: datetime, *, subject: str, body: str) -> bool:
        """Send one alert; False (logged) when it could not go out: the next tick tries again."""
        via = shop if shop.smtp.configured else self.fallback
        if via is None:  # said once at start (`warn_without_smtp`), not at every tick
            log.debug("alerts.no_smtp", shop=shop.id, problem=problem.name)
            return False
        try:
            settings = smtp_settings(via)
            domain = settings.sender.rpartition("@")[2]
            key = f"alert/{shop.id}/{problem.name}/{subject}/{now:%Y-%m-%d}"
            send(settings, build_message(settings=settings, to=self.settings.email, to_name="", html=None,
                                         subject=f"Mahnwerk: {subject}", text=body,
                                         message_id=message_id_for(key, domain)))
        except MahnwerkError as exc:
            log.warning("alerts.mail_failed", shop=shop.id, problem=problem.name, error=str(exc))
            return False
        log.info("alerts.mailed", shop=shop.id, problem=problem.name, active=problem.active)
        return True


TITLES = {"failed_syncs": "syncs failing", "dead_letters": "dead letters in the outbox",
          "rate_missing": "claims blocked by a missing base rate"}
