"""The executor: works through a shop's `send` and `close` rows, each exactly once.

For every row it re-reads the order from the shop first (paid or cancelled since the last sync → nothing is sent,
the claim is updated) and assesses the claim again. Then, in committed steps:

1. `sending`: the message is rendered and stored in the row, the attempt counted;
2. the channel delivers it (the shop's customer channel, mail, letter) and the reference is stored at once;
3. the shop gets a private note and the progress on the order, with the row's key as the marker;
4. the ledger gets the stage, and the row is `done`.

A crash anywhere is resumed from the row: the marker says step 3 was reached; a row found in `sending` without a
reference asks the channel what the interrupted attempt left behind (the shop's copy of the message, the letter
file) before anything is sent again. Where nobody can tell (SMTP, a shop without a readable mail log), the row is
dead-lettered for a person instead of risking a second message.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import structlog
from sqlmodel import Session

from mahnwerk.connectors.letter import LetterError
from mahnwerk.connectors.records import Progress, ShopOrder
from mahnwerk.connectors.smtp import SmtpRejected, SmtpUnavailable
from mahnwerk.errors import MahnwerkError, OrderChanged, ShopAuthFailed, ShopError, ShopRejected, ShopUnavailable
from mahnwerk.policy.engine import Assessment
from mahnwerk.sync.casework.blocked import owed_text
from mahnwerk.sync.casework.case import Case, settle
from mahnwerk.sync.casework.casefile import claim_key
from mahnwerk.sync.config.delivery import missing_for_sending
from mahnwerk.sync.outbox.channels import UNKNOWN, Channel, Email, Letter, Prepared, ShopChannel
from mahnwerk.sync.outbox.compose import compose, route, shop_attaches
from mahnwerk.sync.outbox.formats import money
from mahnwerk.sync.outbox.letters import letter_file
from mahnwerk.sync.outbox.notices import smtp_settings
from mahnwerk.sync.outbox.rows import ready_rows
from mahnwerk.sync.outbox.templates import Templates
from mahnwerk.sync.outbox.work import ACTOR, DISK_FULL, DISK_FULL_ERRNOS, SOURCE, RowWork
from mahnwerk.sync.store.models import Claim, ClaimState, OutboxRow, OutboxState

log = structlog.get_logger("mahnwerk.executor")


class ChannelStopped(Exception):
    """The row's channel sends nothing more in this pass (its folder's disk is full): the row is not tried."""


class Executor:
    """Executes one shop's due send and close rows; `sleep` is injectable for tests and the demo's calendar."""

    def __init__(self, work: RowWork, *, templates: Templates, letters_dir: Path,
                 sleep: Callable[[float], None] = time.sleep,
                 progress: Callable[[int, int], None] | None = None) -> None:
        self.work, self.templates, self.letters_dir, self.sleep = work, templates, letters_dir, sleep
        self.progress = progress  # called with (rows done, rows due) after each row, for a progress bar
        self.shop, self.now = work.shop, work.now
        self._last_send = float("-inf")
        self.channels: dict[str, Channel] = {"shop": ShopChannel(work.actions, attach_letter=shop_attaches(self.shop),
                                                                 font=self.shop.letters.font),
                                             "letter": Letter(self.shop.letters.font)}
        if self.shop.smtp.configured:
            self.channels["email"] = Email(smtp_settings(self.shop), attach_letter=self.shop.smtp.attach_letter,
                                           domain=self.shop.smtp.sender.rpartition("@")[2],
                                           font=self.shop.letters.font)

    def run(self) -> None:
        """Every due send and close row of the shop, oldest first. A refused login stops the shop."""
        rows = ready_rows(self.work.store, self.shop.id, self.now(), kinds=("send", "close"))
        for done, row_id in enumerate(rows, start=1):
            try:
                self.execute(row_id)
            except ShopAuthFailed as exc:
                self.work.login_refused(exc)
                self.work.release(row_id)
                break
            if self.progress:
                self.progress(done, len(rows))

    def execute(self, row_id: int) -> None:
        """One row, as far as it gets now."""
        with self.work.store.session() as session:
            row, claim = self.work.load(session, row_id)
            if row.state in OutboxState.FINAL:
                return  # settled meanwhile (by hand, or by a process that had the shop before us)
            try:
                order = self.work.reread(session, claim)
            except ShopAuthFailed:
                raise
            except ShopError as exc:
                self.work.failed(session, row, str(exc), retry=isinstance(exc, ShopUnavailable))
                return
            if row.kind == "close":
                self._close(session, row, claim)
                return
            case = Case(session, self.shop, claim, ACTOR, self.now(), source=SOURCE)
            try:
                self._act(session, row, claim, case, order)
            except ShopAuthFailed:
                raise
            except ShopError as exc:  # looking for an earlier attempt's message, or the shop's record, failed
                session.rollback()
                reloaded = session.get(OutboxRow, row_id)
                assert reloaded is not None
                self.work.failed(session, reloaded, str(exc), retry=isinstance(exc, ShopUnavailable),
                                 keep_sending=True)

    def _act(self, session: Session, row: OutboxRow, claim: Claim, case: Case, order: ShopOrder | None) -> None:
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
            self.work.skip(session, row, f"the order is {claim.state} in the shop", paid=claim.state == ClaimState.PAID)
            return
        result = case.assess()
        action = result.next
        if result.status != "due" or action is None or (action.stage or action.kind) != row.stage:
            self.work.skip(session, row, f"no longer due: {result.reason}")
            return
        try:
            message, channel = self._prepare(session, row, claim, result)
        except ChannelStopped as exc:
            self.work.blocked(session, row, str(exc), tried=False)
            return
        except MahnwerkError as exc:
            self.work.failed(session, row, str(exc), retry=False)
            return
        self._deliver(session, row, claim, message, channel)
        if row.reference:
            self._complete(session, row, case, recovering=False)

    def _ask_channel(self, session: Session, row: OutboxRow, claim: Claim) -> str | None:
        """What an interrupted attempt left behind; UNKNOWN dead-letters the row for a person to decide."""
        channel = self.channels.get(row.payload.get("channel_used", row.channel))
        if channel is None:
            return None
        found = channel.find(claim.order_id, row.key, row.payload)
        if found == UNKNOWN:
            where = ("the mail server's log for " + row.payload.get("message_id", "the Message-ID")
                     if channel.name == "email" else "the shop's mail log or ask the customer")
            self.work.dead(session, row, f"an earlier attempt was interrupted while the {channel.name} channel had "
                           f"the message; Mahnwerk cannot tell whether it went out. Check {where}, then "
                           f"`mahnwerk outbox retry {row.id}` or `mahnwerk outbox done {row.id}`")
        return found

    def _prepare(self, session: Session, row: OutboxRow, claim: Claim, result: Assessment) -> tuple[Prepared, Channel]:
        """Render the notice, pick the channel (no usable e-mail → letter + task), store it all: step 1."""
        missing = missing_for_sending(self.shop.merchant)
        if missing:
            raise MahnwerkError(f"shop '{self.shop.id}': [merchant] in {self.shop.source.name} lacks "
                                f"{', '.join(missing)}; every notice must name the sender and where to pay")
        action = result.next
        assert action is not None and result.next_balance is not None
        way = route(self.shop, claim, row.stage, row.channel)
        if way.channel in self.work.outcome.stopped:
            raise ChannelStopped(self.work.outcome.stopped[way.channel])
        composed = compose(self.shop, claim, result, self.templates, channel=way.channel)
        notice, rendered, wanted = composed.notice, composed.rendered, way.channel
        path = letter_file(self.letters_dir, notice, row.key)
        message = Prepared(row.key, rendered.subject, rendered.text, rendered.html, claim.email, claim.customer_name,
                           notice.language, composed.letter, path)
        row.state, row.updated_at = OutboxState.SENDING, self.now()
        self.work.count_attempt(row)
        row.payload = {**row.payload, "channel_used": wanted, "subject": rendered.subject, "text": rendered.text,
                       "to": claim.email, "letter_path": str(path) if wanted == "letter" else None,
                       "language": notice.language, "no_email": way.no_email,
                       "deadline": action.deadline.isoformat() if action.deadline else None,
                       "fee": str(action.fee), "total": str(notice.total), "currency": notice.currency,
                       "template": rendered.template_file}
        session.add(row)
        session.commit()
        return message, self.channels[wanted]

    def _deliver(self, session: Session, row: OutboxRow, claim: Claim, message: Prepared, channel: Channel) -> None:
        """Step 2, paced to the shop's messages_per_minute; the reference is committed at once."""
        if channel.name != "letter":
            wait = self._last_send + 60 / self.shop.delivery.messages_per_minute - time.monotonic()
            if wait > 0:
                self.sleep(wait)
            self._last_send = time.monotonic()
        try:
            row.reference = channel.deliver(claim.order_id, message)[:500]
        except ShopAuthFailed:
            raise
        except (ShopUnavailable, SmtpUnavailable) as exc:
            # A timed-out POST may have delivered it: the row stays `sending`, the next attempt looks first.
            self.work.failed(session, row, str(exc), retry=True, keep_sending=channel.name == "shop")
            return
        except OSError as exc:
            if exc.errno not in DISK_FULL_ERRNOS:
                self.work.failed(session, row, str(exc), retry=False)
                return
            # Space comes back without anyone touching the rows: every letter of this pass would fail alike, so
            # the channel stops and its rows wait, pending, for the first pass after space is freed.
            reason = (f"{DISK_FULL}: {exc.strerror} writing {message.letter_path}; the {channel.name} channel "
                      "stopped for this run, its rows wait for the next one")
            if channel.name not in self.work.outcome.stopped:
                self.work.outcome.stopped[channel.name] = reason
                self.work.outcome.errors.append(f"shop '{self.shop.id}': {reason}")
            # Only the folder's fsync may have failed, after the letter was in place: then it counts as written.
            found = channel.find(claim.order_id, row.key, row.payload)
            if not found or found == UNKNOWN:
                self.work.blocked(session, row, reason, tried=True)
                return
            row.reference = found
        except OrderChanged as exc:  # refused before anything went out: the shop has moved on (paid, cancelled)
            self._changed_meanwhile(session, row, claim, exc)
            return
        except (ShopRejected, SmtpRejected, LetterError) as exc:
            self.work.failed(session, row, str(exc), retry=False)
            return
        session.add(row)
        session.commit()
        log.info("outbox.delivered", shop=self.shop.id, row=row.id, stage=row.stage, channel=channel.name)

    def _changed_meanwhile(self, session: Session, row: OutboxRow, claim: Claim, exc: OrderChanged) -> None:
        """The order is read again (like a sync) and the row skipped as for a claim found paid before sending; if
        the shop still shows it open, the refusal is the row's error for a person."""
        try:
            self.work.reread(session, claim)
        except ShopError as reread_failed:
            self.work.failed(session, row, f"{exc}; reading the order again failed: {reread_failed}", retry=True)
            return
        if claim.state == ClaimState.OPEN:
            self.work.failed(session, row, str(exc), retry=False)
            return
        self.work.skip(session, row, f"the order is {claim.state} in the shop ({exc})",
                       paid=claim.state == ClaimState.PAID)

    def _complete(self, session: Session, row: OutboxRow, case: Case, *, recovering: bool) -> None:
        """Step 3: the merchant's view in the shop (private note, progress with the marker last), then step 4."""
        claim = case.claim
        after = self._finish(session, row, case, commit=False, recovered=recovering)
        nxt = after.next
        text = (f"Mahnwerk: {row.stage} sent ({row.reference}), key {row.key}. "
                f"Open: {owed_text(after, lambda amount: money(amount, claim.currency, 'en'))}"
                + (f", pay by {row.payload['deadline']}" if row.payload.get("deadline") else "")
                + (f". Next: {nxt.stage or nxt.kind} on {nxt.on.isoformat()}." if nxt else "."))
        actions = self.work.actions
        try:
            if not (recovering and actions.has_private_note(claim.order_id, row.key)):
                actions.add_private_note(claim.order_id, text)
            actions.record_progress(claim.order_id, Progress(row.stage, (nxt.stage or nxt.kind) if nxt else "",
                                                             nxt.on if nxt else None, row.key))
        except ShopAuthFailed:
            session.rollback()
            raise
        except ShopError as exc:  # the customer has it; only the shop's record is missing: try that again later
            session.rollback()
            self.work.failed(session, row, f"sent, but the shop's record failed: {exc}", retry=True,
                             keep_sending=True)
            return
        session.commit()

    def _finish(self, session: Session, row: OutboxRow, case: Case, *, commit: bool = True,
                recovered: bool = False) -> Assessment:
        """Step 4: the stage in the ledger, the row done; returns the assessment with the stage recorded."""
        stage = next((s for s in self.shop.policy.stages if s.name == row.stage), None)
        channel = row.payload.get("channel_used", row.channel)
        case.record("stage", {"stage": row.stage, "kind": stage.kind if stage else row.kind,
                              "deadline": row.payload.get("deadline"), "fee": row.payload.get("fee", "0"),
                              "channel": channel, "reference": row.reference, "key": row.key})
        if row.payload.get("no_email"):  # the letter exists now: someone must post it and find an address
            self.work.task(session, case.claim.id or 0, "get_email",
                           f"{claim_key(self.shop.id, case.claim.order_number)}"
                           f" has no usable e-mail address; the {row.stage} went out as a letter to post: "
                           f"{row.payload.get('letter_path')}")
        row.state, row.done_at, row.updated_at, row.last_error = OutboxState.DONE, self.now(), self.now(), ""
        session.add(row)
        if recovered:
            self.work.outcome.recovered += 1
        elif channel == "letter":
            self.work.outcome.letters += 1
        else:
            self.work.outcome.sent += 1
        if commit:
            session.commit()
        return case.assess()

    def _close(self, session: Session, row: OutboxRow, claim: Claim) -> None:
        """Paid in full by payments recorded here: the claim closes (the shop is told by the payment write-back)."""
        if claim.state == ClaimState.OPEN:
            settle(Case(session, self.shop, claim, ACTOR, self.now(), source=SOURCE), "paid in full")
            self.work.outcome.closed += 1
        row.state, row.done_at, row.updated_at = OutboxState.DONE, self.now(), self.now()
        session.add(row)
        session.commit()
