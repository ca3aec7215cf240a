"""The executor: works through a shop's outbox rows, each exactly once.

For every row it re-reads the order from the shop first (paid or cancelled since the last sync → nothing is sent,
the claim is updated) and assesses the claim again. Then, in committed steps:

1. `sending`: the message is rendered and stored in the row, the attempt counted;
2. the channel delivers it (customer note, mail, letter) and the reference is stored at once;
3. the shop gets a private note and the order meta `_mahnwerk_last_action` = the row's key (the marker);
4. the ledger gets the stage, and the row is `done`.

A crash anywhere is resumed from the row: the marker says step 3 was reached; a row found in `sending` without a
reference asks the channel what the interrupted attempt left behind (a customer note with the same text, the
letter file) before anything is sent again. SMTP cannot be asked, so such a row is dead-lettered for a person.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

from mahnwerk.connectors.letter import LetterError
from mahnwerk.connectors.smtp import SmtpRejected, SmtpSettings, SmtpUnavailable, valid_email
from mahnwerk.connectors.woocommerce_actions import NEXT_DATE_KEY, NEXT_KEY, STAGE_KEY, WooActions
from mahnwerk.errors import MahnwerkError, ShopAuthFailed, ShopError, ShopRejected, ShopUnavailable
from mahnwerk.policy.engine import Assessment
from mahnwerk.policy.interest import cents
from mahnwerk.policy.notice import Addressee, Agency, Merchant, Notice, notice_for
from mahnwerk.sync.casework.casefile import claim_key
from mahnwerk.sync.casework.case import Case, settle
from mahnwerk.sync.outbox.channels import UNKNOWN, Channel, Email, Letter, Prepared, ShopNote
from mahnwerk.sync.config.shop import ShopConfig
from mahnwerk.sync.config.delivery import missing_for_sending
from mahnwerk.sync.outbox.letters import letter_content, letter_file
from mahnwerk.policy.languages import language_for
from mahnwerk.sync.outbox.templates import Templates, money
from mahnwerk.sync.store.models import Claim, ClaimState, OutboxRow, OutboxState, Task
from mahnwerk.sync.outbox.decide import backoff, ready_rows
from mahnwerk.sync.mirror.pagewriter import PageWriter, unresolved_quarantine
from mahnwerk.sync.store.engine import Store

log = structlog.get_logger("mahnwerk.executor")
ACTOR = "mahnwerk"


@dataclass
class Outcome:
    """What one executor pass did, for `run`'s summary."""

    shop: str
    sent: int = 0  # customer notes and mails
    letters: int = 0
    recovered: int = 0  # delivered by an earlier, interrupted run and finished by this one
    written_back: int = 0  # payments the shop was told of (status and note)
    exports: int = 0  # claims handed over
    closed: int = 0
    skipped_paid: int = 0
    skipped: int = 0  # no longer due: on hold, cancelled, changed
    retrying: int = 0
    dead: int = 0
    tasks: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


class Executor:
    """Executes one shop's due outbox rows; `now` and `sleep` are injectable for tests and the demo's calendar."""

    def __init__(self, store: Store, shop: ShopConfig, actions: WooActions, *, templates: Templates,
                 letters_dir: Path, now: Callable[[], datetime], sleep: Callable[[float], None] = time.sleep) -> None:
        self.store, self.shop, self.actions, self.templates = store, shop, actions, templates
        self.letters_dir, self.now, self.sleep = letters_dir, now, sleep
        self.outcome = Outcome(shop.id)
        self._last_send = float("-inf")
        self._counted: set[int] = set()  # rows whose attempt this pass has counted
        self.channels: dict[str, Channel] = {"shop": ShopNote(actions), "letter": Letter(shop.letters.font)}
        if shop.smtp.configured:
            self.channels["email"] = Email(smtp_settings(shop), attach_letter=shop.smtp.attach_letter,
                                           domain=shop.smtp.sender.rpartition("@")[2], font=shop.letters.font)

    def run(self) -> Outcome:
        """Every due send and close row of the shop, oldest first. A failed login stops the shop."""
        for row_id in ready_rows(self.store, self.shop.id, self.now(), kinds=("send", "close")):
            try:
                self.execute(row_id)
            except ShopAuthFailed as exc:
                self.outcome.errors.append(f"{exc} (check the consumer key and secret in {self.shop.source.name})")
                self._release(row_id)
                break
        return self.outcome

    # One row

    def execute(self, row_id: int) -> None:
        with self.store.session() as session:
            row, claim = self.load(session, row_id)
            try:
                order = self.reread(session, claim)
            except ShopAuthFailed:
                raise
            except ShopError as exc:
                return self.failed(session, row, str(exc), retry=isinstance(exc, ShopUnavailable))
            if row.kind == "close":
                return self._close(session, row, claim)
            case = Case(session, self.shop, claim, ACTOR, self.now())
            try:
                self._act(session, row, claim, case, order)
            except ShopAuthFailed:
                raise
            except ShopError as exc:  # looking for an earlier attempt's note, or the shop's record, failed
                session.rollback()
                row = session.get(OutboxRow, row_id)
                self.failed(session, row, str(exc), retry=isinstance(exc, ShopUnavailable), keep_sending=True)

    def _act(self, session: Any, row: OutboxRow, claim: Claim, case: Case, order: Any) -> None:
        if order is not None and order.marker == row.key:  # step 3 was reached before a crash
            self._finish(session, row, case, recovered=True)
            return
        if row.state == OutboxState.SENDING:
            if not row.reference:
                found = self._ask_channel(session, row, claim)
                if found == UNKNOWN:
                    return
                row.reference = found or ""
            if row.reference:
                self._complete(session, row, case, recovering=True)
                return
        if claim.state != ClaimState.OPEN:
            self.skip(session, row, f"the order is {claim.state} in the shop", paid=claim.state == ClaimState.PAID)
            return
        result = case.assess()
        action = result.next
        if result.status != "due" or action is None or (action.stage or action.kind) != row.stage:
            self.skip(session, row, f"no longer due: {result.reason}")
            return
        try:
            message, channel = self._prepare(session, row, claim, result)
        except MahnwerkError as exc:
            self.failed(session, row, str(exc), retry=False)
            return
        self._deliver(session, row, claim, message, channel)
        if row.reference:
            self._complete(session, row, case, recovering=False)

    def load(self, session: Any, row_id: int) -> tuple[OutboxRow, Claim]:
        """The row and its claim, in `session`."""
        row = session.get(OutboxRow, row_id)
        claim = session.get(Claim, row.claim_id)
        assert row is not None and claim is not None
        return row, claim

    def reread(self, session: Any, claim: Claim) -> Any:
        """The order as the shop has it now, written into the store like a sync would; None if it is gone."""
        page = self.actions.current(claim.order_id)
        conn = session.connection()
        PageWriter(self.shop, now=self.now(), unresolved=unresolved_quarantine(conn, self.shop.id)).apply(conn, page)
        session.commit()
        session.refresh(claim)
        return page.records[0] if page.records else None

    def _ask_channel(self, session: Any, row: OutboxRow, claim: Claim) -> str | None:
        """What an interrupted attempt left behind; UNKNOWN dead-letters the row for a person to decide."""
        channel = self.channels.get(row.payload.get("channel_used", row.channel))
        if channel is None:
            return None
        found = channel.find(claim.order_id, row.payload)
        if found == UNKNOWN:
            self._dead(session, row, "an earlier attempt was interrupted while the mail server had the message; "
                       "Mahnwerk cannot tell whether it went out. Check the server's log for "
                       f"{row.payload.get('message_id', 'the Message-ID')}, then `mahnwerk outbox retry {row.id}` "
                       f"or `mahnwerk outbox done {row.id}`")
        return found

    def _prepare(self, session: Any, row: OutboxRow, claim: Claim, result: Assessment) -> tuple[Prepared, Channel]:
        """Render the notice, pick the channel (no usable e-mail → letter + task), store it all: step 1."""
        missing = missing_for_sending(self.shop.merchant)
        if missing:
            raise MahnwerkError(f"shop '{self.shop.id}': [merchant] in {self.shop.source.name} lacks "
                                f"{', '.join(missing)}; every notice must name the sender and where to pay")
        action = result.next
        assert action is not None and result.next_balance is not None
        notice = build_notice(self.shop, claim, result)
        wanted = row.channel if row.channel in self.channels else "shop" if row.channel != "email" else None
        if wanted is None:
            raise MahnwerkError(f"stage {row.stage} sends by e-mail but [smtp] is not configured in "
                                f"{self.shop.source.name}")
        path = letter_file(self.letters_dir, notice, row.key)
        if wanted in ("shop", "email") and not valid_email(claim.email):
            wanted = "letter"
            self._task(session, claim, "get_email", f"{claim_key(self.shop.id, claim.order_number)} has no usable "
                       f"e-mail address; the {row.stage} went out as a letter to post: {path}")
        rendered = self.templates.render(notice)
        letter = None
        if wanted == "letter" or (wanted == "email" and self.shop.smtp.attach_letter):
            letter = letter_content(notice, self.templates.render(notice, letter=True),
                                    girocode=self.shop.letters.girocode)
        message = Prepared(rendered.subject, rendered.text, rendered.html, rendered.note, claim.email,
                           claim.customer_name, letter, path)
        row.state, row.attempts, row.updated_at = OutboxState.SENDING, row.attempts + 1, self.now()
        self._counted.add(row.id)
        row.payload = {**row.payload, "channel_used": wanted, "subject": rendered.subject, "note": rendered.note,
                       "letter_path": str(path) if wanted == "letter" else None, "language": notice.language,
                       "deadline": action.deadline.isoformat() if action.deadline else None,
                       "fee": str(action.fee), "total": str(notice.total), "currency": notice.currency,
                       "template": rendered.template_file}
        session.add(row)
        session.commit()
        return message, self.channels[wanted]

    def _deliver(self, session: Any, row: OutboxRow, claim: Claim, message: Prepared, channel: Channel) -> None:
        """Step 2, paced to the shop's messages_per_minute; the reference is committed at once."""
        if channel.name != "letter":
            wait = self._last_send + 60 / self.shop.delivery.messages_per_minute - time.monotonic()
            if wait > 0:
                self.sleep(wait)
            self._last_send = time.monotonic()
        try:
            row.reference = channel.deliver(claim.order_id, row.key, message)[:500]
        except ShopAuthFailed:
            raise
        except (ShopUnavailable, SmtpUnavailable) as exc:
            # A timed-out POST may have created the note: the row stays `sending`, the next attempt looks first.
            return self.failed(session, row, str(exc), retry=True, keep_sending=channel.name == "shop")
        except (ShopRejected, SmtpRejected, LetterError, OSError) as exc:
            return self.failed(session, row, str(exc), retry=False)
        session.add(row)
        session.commit()
        log.info("outbox.delivered", shop=self.shop.id, row=row.id, stage=row.stage, channel=channel.name)

    def _complete(self, session: Any, row: OutboxRow, case: Case, *, recovering: bool) -> None:
        """Step 3: the merchant's view in the shop (private note, meta with the marker last), then step 4."""
        claim = case.claim
        after = self._finish(session, row, case, commit=False, recovered=recovering)
        nxt = after.next
        text = (f"Mahnwerk: {row.stage} sent ({row.reference}), key {row.key}. "
                f"Open: {money(cents(after.balance.total), claim.currency, 'en') if after.balance else '?'}"
                + (f", pay by {row.payload['deadline']}" if row.payload.get("deadline") else "")
                + (f". Next: {nxt.stage or nxt.kind} on {nxt.on.isoformat()}." if nxt else "."))
        try:
            if not (recovering and any(row.key in n.text for n in self.actions.notes(claim.order_id)
                                       if not n.customer)):
                self.actions.add_private_note(claim.order_id, text)
            self.actions.mark(claim.order_id, {STAGE_KEY: row.stage, NEXT_KEY: (nxt.stage or nxt.kind) if nxt else "",
                                               NEXT_DATE_KEY: nxt.on.isoformat() if nxt else "",
                                               self.actions.marker_key: row.key})
        except ShopAuthFailed:
            session.rollback()
            raise
        except ShopError as exc:  # the customer has it; only the shop's record is missing: try that again later
            session.rollback()
            return self.failed(session, row, f"sent, but the shop's record failed: {exc}", retry=True,
                                keep_sending=True)
        session.commit()

    def _finish(self, session: Any, row: OutboxRow, case: Case, *, commit: bool = True,
                recovered: bool = False) -> Assessment:
        """Step 4: the stage in the ledger, the row done; returns the assessment with the stage recorded."""
        stage = next((s for s in self.shop.policy.stages if s.name == row.stage), None)
        case.record("stage", {"stage": row.stage, "kind": stage.kind if stage else row.kind,
                              "deadline": row.payload.get("deadline"),
                              "fee": row.payload.get("fee", "0"), "channel": row.payload.get("channel_used",
                                                                                            row.channel),
                              "reference": row.reference, "key": row.key})
        row.state, row.done_at, row.updated_at, row.last_error = OutboxState.DONE, self.now(), self.now(), ""
        session.add(row)
        channel = row.payload.get("channel_used", row.channel)
        if recovered:
            self.outcome.recovered += 1
        elif channel == "letter":
            self.outcome.letters += 1
        else:
            self.outcome.sent += 1
        if commit:
            session.commit()
        return case.assess()

    def _close(self, session: Any, row: OutboxRow, claim: Claim) -> None:
        """Paid in full by payments recorded here: the claim closes (writing back to the shop comes with payments)."""
        if claim.state == ClaimState.OPEN:
            settle(Case(session, self.shop, claim, ACTOR, self.now()), "paid in full")
            self.outcome.closed += 1
        row.state, row.done_at, row.updated_at = OutboxState.DONE, self.now(), self.now()
        session.add(row)
        session.commit()

    # Bookkeeping

    def skip(self, session: Any, row: OutboxRow, reason: str, *, paid: bool = False) -> None:
        """The row's action is no longer due (paid, cancelled, on hold): nothing is sent."""
        # The key is freed: should the stage fall due again (a hold released), it gets a row of its own.
        row.key = f"{row.key}#skipped-{row.id}"
        row.state, row.last_error, row.updated_at, row.done_at = OutboxState.SKIPPED, reason[:2000], self.now(), self.now()
        session.add(row)
        session.commit()
        if paid:
            self.outcome.skipped_paid += 1
        else:
            self.outcome.skipped += 1

    def failed(self, session: Any, row: OutboxRow, error: str, *, retry: bool, keep_sending: bool = False) -> None:
        """Retry later with backoff, or dead-letter: permanent errors, and transient ones after max_attempts."""
        if row.id not in self._counted:  # an attempt that failed before it could send counts too
            row.attempts += 1
            self._counted.add(row.id)
        if not retry or row.attempts >= self.shop.delivery.max_attempts:
            why = error if not retry else f"gave up after {row.attempts} attempts: {error}"
            return self._dead(session, row, why)
        if not keep_sending and row.state == OutboxState.SENDING and not row.reference:
            row.state = OutboxState.PENDING  # known not to have been sent
        row.last_error, row.updated_at = error[:2000], self.now()
        row.next_attempt_at = self.now() + backoff(row, self.shop.delivery.retry_after)
        session.add(row)
        session.commit()
        self.outcome.retrying += 1
        log.warning("outbox.retry", shop=self.shop.id, row=row.id, stage=row.stage, error=error)

    def _dead(self, session: Any, row: OutboxRow, reason: str) -> None:
        row.state, row.last_error, row.updated_at = OutboxState.DEAD, reason[:2000], self.now()
        session.add(row)
        session.commit()
        self.outcome.dead += 1
        self.outcome.errors.append(f"outbox row {row.id} ({row.key}) dead-lettered: {reason}")
        log.error("outbox.dead", shop=self.shop.id, row=row.id, stage=row.stage, reason=reason)

    def _release(self, row_id: int) -> None:
        with self.store.session() as session:
            row = session.get(OutboxRow, row_id)
            if row is not None and row.state not in OutboxState.FINAL:
                row.next_attempt_at = self.now()
                session.add(row)
                session.commit()

    def _task(self, session: Any, claim: Claim, kind: str, text: str) -> None:
        session.add(Task(claim_id=claim.id, kind=kind, text=text, created_at=self.now()))
        self.outcome.tasks += 1


def smtp_settings(shop: ShopConfig) -> SmtpSettings:
    smtp = shop.smtp
    return SmtpSettings(host=smtp.host, port=smtp.port, security=smtp.security, username=smtp.username or None,
                        password=smtp.password.reveal() if smtp.password else None, sender=smtp.sender,
                        sender_name=smtp.sender_name or shop.merchant.name, reply_to=smtp.reply_to or None,
                        timeout=smtp.timeout.total_seconds(), ca_bundle=smtp.ca_bundle)


def merchant(shop: ShopConfig) -> Merchant:
    m = shop.merchant
    return Merchant(name=m.name, email=m.email, street=m.street, postcode=m.postcode, city=m.city, country=m.country,
                    phone=m.phone, website=m.website, vat_id=m.vat_id, account_holder=m.account_holder or m.name,
                    iban=m.iban, bic=m.bic, bank_name=m.bank_name)


def addressee(claim: Claim) -> Addressee:
    a = claim.billing_address or {}
    return Addressee(name=claim.customer_name, company=claim.company, address_1=a.get("address_1", ""),
                     address_2=a.get("address_2", ""), postcode=a.get("postcode", ""), city=a.get("city", ""),
                     state=a.get("state", ""), country=a.get("country", ""), email=claim.email,
                     phone=a.get("phone", ""))


def build_notice(shop: ShopConfig, claim: Claim, result: Assessment) -> Notice:
    """The notice for the claim's due action, in the customer's language."""
    action, balance = result.next, result.next_balance
    assert action is not None and balance is not None
    customer = addressee(claim)
    agency = Agency(shop.agency.name, shop.agency.address) if shop.agency.name else None
    rule = shop.policy.interest_b2b if claim.is_b2b else shop.policy.interest_b2c
    return notice_for(action, balance, invoice_amount=claim.open_amount, default_on=result.default_on,
                      language=language_for(customer.country, shop.delivery.language), merchant=merchant(shop),
                      customer=customer, order_number=claim.order_number, invoice_number=claim.invoice_number,
                      invoice_date=claim.invoice_date, due_date=claim.due_date,
                      interest_rule=rule if rule.kind != "none" else None, agency=agency)
