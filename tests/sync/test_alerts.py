"""`[alerts] email`: the daemon's ticks mail a person when a shop fails its syncs, has dead letters or claims wait for
a base rate — once when it begins, at most once a day while it lasts, once when it clears — through a real SMTP
server on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from mahnwerk.sync.cli.main import main
from mahnwerk.sync.config import load_config
from mahnwerk.sync.mirror.mirror import utcnow
from mahnwerk.sync.service.alerts import Alerts
from mahnwerk.sync.service.bootstrap import open_store
from mahnwerk.sync.service.daemon import shop_job
from mahnwerk.sync.service.metrics import DaemonMetrics
from mahnwerk.sync.store.models import AlertState, OutboxRow
from tests.connectors.test_smtp import Inbox
from tests.support import write_config
from tests.sync.test_run import MERCHANT


def subjects(inbox: Inbox) -> list[str]:
    """The Subject of every mail received, in order; the inbox is emptied."""
    found = [str(email.message_from_bytes(e.content, policy=email.policy.default)["Subject"]) for e in inbox.envelopes]
    inbox.envelopes.clear()
    return found


def test_each_problem_is_mailed_when_it_begins_daily_while_it_lasts_and_when_it_clears(
        tmp_path: Path, woo, smtp: tuple[Inbox, int], db_url: str) -> None:
    """Two failed syncs (failed_syncs = 2) make one mail, a third the same day none, the next day one "(still)"; the
    shop answering again makes one "resolved". The day's run then finds claims waiting for a rate (no 2026-H2 row
    configured) and a dead letter later: each mailed once, and the dead letter's end too."""
    inbox, port = smtp
    extra = MERCHANT.replace("[delivery]\n", '[delivery]\nrun_at = "00:00"\n') + (
        f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\nsender = "mahnwerk@gartenglueck.test"\n')

    def configured(secret: str) -> Path:
        etc = write_config(tmp_path / "etc", db_url, [
            {"shop_id": "acme", "url": woo.url, "key": woo.consumer_key, "secret": secret, "extra": extra}])
        with (etc / "mahnwerk.toml").open("a", encoding="utf-8") as toml:
            toml.write('\n[alerts]\nemail = "ops@gartenglueck.test"\nfailed_syncs = 2\n')
        return etc

    config = load_config(configured("cs_wrong"))
    store = open_store(config)
    metrics = DaemonMetrics(store, ["acme"])
    alerts = Alerts(store, config.alerts, config.shops)
    start = utcnow()

    def tick(at: datetime) -> list[str]:
        shop_job(store, config.shops[0], config, now=lambda: at, metrics=metrics, alerts=alerts)
        return subjects(inbox)

    try:
        assert tick(start) == []  # one failure of two
        assert tick(start) == ["Mahnwerk: shop 'acme': syncs failing"]
        assert tick(start + timedelta(hours=23)) == []  # at most one a day
        assert tick(start + timedelta(days=1)) == ["Mahnwerk: shop 'acme': syncs failing (still)"]
        config = load_config(configured(woo.consumer_secret))  # the merchant fixes the key
        later = start + timedelta(days=2)  # a new day: the day's run decides, and counts the blocked claims
        assert sorted(tick(later)) == ["Mahnwerk: shop 'acme': claims blocked by a missing base rate",
                                       "Mahnwerk: shop 'acme': resolved: syncs failing"]
        assert tick(later) == []
        with store.session() as session:
            row = session.execute(select(OutboxRow).limit(1)).scalar_one()
            session.execute(update(OutboxRow).where(OutboxRow.id == row.id).values(state="dead"))
            session.commit()
        assert tick(later) == ["Mahnwerk: shop 'acme': dead letters in the outbox"]
        assert main(["--config-dir", str(config.config_dir), "outbox", "skip", str(row.id)]) == 0
        assert tick(later) == ["Mahnwerk: shop 'acme': resolved: dead letters in the outbox"]
        with store.session() as session:
            open_problems = [a.problem for a in session.execute(select(AlertState)).scalars()]
    finally:
        store.close()
    assert open_problems == ["rate_missing"]  # still waiting for its rate


def test_the_mail_says_what_is_wrong_and_what_to_do(tmp_path: Path, woo, smtp: tuple[Inbox, int]) -> None:
    """The alert names the shop, the last error and the command to run; it goes to [alerts] email from the
    shop's [smtp] sender."""
    inbox, port = smtp
    extra = f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\nsender = "mahnwerk@example.com"\n'
    etc = write_config(tmp_path / "etc", f"sqlite:///{tmp_path / 'm.db'}", [
        {"shop_id": "acme", "url": woo.url, "key": woo.consumer_key, "secret": "cs_wrong", "extra": extra}])
    with (etc / "mahnwerk.toml").open("a", encoding="utf-8") as toml:
        toml.write('\n[alerts]\nemail = "ops@example.com"\nfailed_syncs = 1\n')
    config = load_config(etc)
    store = open_store(config)
    try:
        shop_job(store, config.shops[0], config, alerts=Alerts(store, config.alerts, config.shops))
    finally:
        store.close()
    [envelope] = inbox.envelopes
    mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert envelope.rcpt_tos == ["ops@example.com"] and envelope.mail_from == "mahnwerk@example.com"
    body = mail.get_content()
    assert "The last 1 syncs of shop 'acme' failed" in body and "401" in body
    assert "mahnwerk check --shop acme" in body
