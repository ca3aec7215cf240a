"""Defects of issue 14 §3, one test each, end to end where the defect was: the sandbox shop over HTTP, a real
database (SQLite and PostgreSQL), the command line in-process, a real SMTP server for the mail channel."""

from __future__ import annotations

import email
import email.policy
import io
import json
import os
import re
import stat
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from mahnwerk.connectors.agency_export import ExportError
from mahnwerk.sync.cli.main import main
from mahnwerk.sync.outbox import handover
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import Claim, ClaimState, LedgerEntry, OutboxRow, OutboxState, Task
from tests.connectors.test_smtp import Inbox
from tests.support import write_config
from tests.sync.test_casework_cli import RATES
from tests.sync.test_config import example_parts
from tests.sync.test_run import MERCHANT, customer_notes, query, run_at, sync_and_decide

ROOT = Path(__file__).parents[2]
# Every letter stage switched off: the agency is the first stage, 4 days after the due date.
AGENCY_FIRST = "".join(f"\n[policy.stages.{name}]\nenabled = false\n"
                       for name in ("reminder", "dunning_1", "dunning_2", "final_notice"))


def config(tmp_path: Path, woo, db_url: str, extra: str, **shop: str) -> Path:
    """A config folder with the shop "acme" on the sandbox and `extra` appended to its file."""
    entry = {"shop_id": "acme", "url": woo.url, "key": woo.consumer_key, "secret": woo.consumer_secret,
             "extra": extra} | shop
    return write_config(tmp_path / "etc", db_url, [entry])


def cli(etc: Path, capsys, *args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of one command."""
    capsys.readouterr()
    code = main(["--config-dir", str(etc), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def claims(etc: Path, capsys, *args: str) -> dict[str, dict]:
    code, out, err = cli(etc, capsys, "claims", "--json", *args)
    assert code == 0, err
    return {f"{r['shop']}:{r['order_number']}": r for r in json.loads(out)}


# --- 1. run refuses an incomplete [merchant] before writing anything --------------------------------------------------


@pytest.mark.parametrize(("merchant", "missing"), [
    ("", "name, email, street, postcode, city, iban"),
    ('\n[merchant]\nname = "Gartenglück GmbH"\niban = "DE14 3704 0044 1234 5678 90"\n',
     "email, street, postcode, city"),
], ids=["missing", "incomplete"])
def test_run_refuses_an_incomplete_merchant_before_writing_anything(tmp_path: Path, woo, db_url: str, capsys,
                                                                     merchant: str, missing: str) -> None:
    """Exit 2 naming every missing key; no outbox row (that would be dead-lettered by the hundred), nothing sent."""
    etc = config(tmp_path, woo, db_url, RATES + merchant)
    code, _, err = cli(etc, capsys, "run")
    assert code == 2, err
    assert f"[merchant] in acme.toml lacks {missing} (every notice names the sender and where to pay)" in err
    assert "configuration error" not in err
    assert query(etc, select(OutboxRow)) == [] and query(etc, select(LedgerEntry.id)) == []
    assert customer_notes(woo) == []


# --- 2. config.example.toml as it is: example values are refused ------------------------------------------------------


def test_the_example_config_copied_as_it_is_is_refused_by_check_and_run(tmp_path: Path, woo, db_url: str, capsys,
                                                                         monkeypatch) -> None:
    """The example's company "Acme", the documentation's IBAN and the address at acme.example are named by `check`
    (which finds the shop itself fine) and stop `run` with exit 2 before a single outbox row is written."""
    parts = example_parts()
    files = {"mahnwerk.toml": parts["mahnwerk.toml"].replace('"sqlite:////var/lib/mahnwerk/mahnwerk.db"',
                                                             f'"{db_url}"'),
             "shops/acme.toml": parts["shops/acme.toml"].replace('"https://shop.example.com"', f'"{woo.url}"')}
    etc = tmp_path / "etc"
    for name, text in files.items():
        assert text != parts[name]
        (etc / name).parent.mkdir(parents=True, exist_ok=True)
        (etc / name).write_text(text, encoding="utf-8")
    monkeypatch.setenv("ACME_WC_KEY", woo.consumer_key)
    monkeypatch.setenv("ACME_WC_SECRET", woo.consumer_secret)

    code, out, _ = cli(etc, capsys, "check", "--json")
    [verdict] = json.loads(out)
    assert code == 1 and not verdict["ok"] and verdict["reachable"] and verdict["authenticated"]
    assert verdict["problem"].startswith("[merchant] in acme.toml still holds example values, so `run` sends nothing")
    for named in ("name ('Acme Gartenbedarf GmbH' is the example's company)",
                  "iban (DE89 3704 0044 0532 0130 00 is the documentation's example account)",
                  "email ('buchhaltung@acme.example' is at an example domain)"):
        assert named in verdict["problem"]

    code, _, err = cli(etc, capsys, "run")
    assert code == 2 and "still holds example values: name ('Acme Gartenbedarf GmbH'" in err
    assert query(etc, select(OutboxRow)) == [] and customer_notes(woo) == []


# --- 3. claims: open principal after part payments, and what is owed today --------------------------------------------


def aging_line(out: str, currency: str, bucket: str) -> tuple[int, Decimal]:
    """(claims, open amount) of one line of the aging table."""
    match = re.search(rf"│ {currency}\s*│ {re.escape(bucket)}\s*│\s*(\d+) │\s*([\d.]+) {currency} │", out)
    assert match, out
    return int(match[1]), Decimal(match[2])


def test_claims_show_the_principal_left_after_a_part_payment_and_what_is_owed(tmp_path: Path, woo, db_url: str,
                                                                              capsys) -> None:
    """A part payment booked here lowers `open_amount` (it used to stay the invoice's amount); `owed` adds fees,
    the flat fee and interest as of today, as `explain` computes them; the aging totals use the same figures."""
    etc = config(tmp_path, woo, db_url, RATES)
    assert cli(etc, capsys, "sync")[0] == 0
    before = claims(etc, capsys)
    consumer = max((r for r in before.values() if not r["b2b"] and r["currency"] == "EUR" and 0 < r["days_overdue"]
                    <= 30), key=lambda r: Decimal(r["open_amount"]))  # not in default: nothing but the principal
    business = next(r for r in before.values() if r["b2b"] and r["days_overdue"] > 60)  # in default: interest, €40
    key = f"acme:{consumer['order_number']}"
    invoice = Decimal(consumer["open_amount"])
    half = (invoice / 2).quantize(Decimal("0.01"))
    assert consumer["owed"] == consumer["open_amount"]

    assert cli(etc, capsys, "mark-paid", key, "--amount", str(half))[0] == 0
    assert cli(etc, capsys, "mark-paid", f"acme:{business['order_number']}", "--amount", "20.00")[0] == 0
    after = claims(etc, capsys)
    assert after[key]["open_amount"] == after[key]["owed"] == str(invoice - half)
    for ref in (key, f"acme:{business['order_number']}"):
        code, out, _ = cli(etc, capsys, "explain", ref, "--json")
        balance = json.loads(out)["balance"]
        assert (after[ref]["open_amount"], after[ref]["owed"]) == (balance["principal"], balance["total"])
    paid_business = after[f"acme:{business['order_number']}"]
    # §367 BGB: the €20 went to the €40 flat fee, none to the principal; the day's interest is the same
    assert Decimal(business["owed"]) > Decimal(business["open_amount"]) + 40
    assert paid_business["open_amount"] == business["open_amount"]
    assert Decimal(paid_business["owed"]) == Decimal(business["owed"]) - 20

    code, out, _ = cli(etc, capsys, "claims")
    assert code == 0 and f"{invoice - half} EUR" in out and f"{paid_business['owed']} EUR" in out
    count, total = aging_line(out, "EUR", consumer["aging"])
    same = [r for r in after.values() if r["currency"] == "EUR" and r["aging"] == consumer["aging"]]
    assert count == len(same) and total == sum(Decimal(r["open_amount"]) for r in same)


def test_owed_is_null_while_interest_is_blocked(tmp_path: Path, woo, db_url: str, capsys) -> None:
    """Without a base rate for today (the shipped table ends 2026-06-30), a business claim in default cannot say
    what it owes: `owed` is null and the table shows "?" with the reason; `open_amount` is still given."""
    etc = config(tmp_path, woo, db_url, "")
    assert cli(etc, capsys, "sync")[0] == 0
    rows = claims(etc, capsys)
    blocked = [ref for ref, r in rows.items() if r["owed"] is None]
    assert blocked and all(rows[ref]["b2b"] and Decimal(rows[ref]["open_amount"]) > 0 for ref in blocked)
    code, out, _ = cli(etc, capsys, "explain", blocked[0], "--json")
    assert code == 0 and json.loads(out)["problem"]
    code, out, _ = cli(etc, capsys, "claims")
    assert code == 0 and f"owed ?: interest blocked for {len(blocked)} claim(s)" in out


# --- 4. read-only commands need no shop secret ------------------------------------------------------------------------


def test_read_only_commands_work_without_the_shop_secret(tmp_path: Path, woo, db_url: str, capsys,
                                                         monkeypatch) -> None:
    """claims, plan, explain, status (and tasks) read the store only: an unset ${VAR} of [shop.auth] does not stop
    them; `sync` names the variable for that shop."""
    etc = config(tmp_path, woo, db_url, RATES, key="${MW_DEFECTS_KEY}", secret="${MW_DEFECTS_SECRET}")
    monkeypatch.setenv("MW_DEFECTS_KEY", woo.consumer_key)
    monkeypatch.setenv("MW_DEFECTS_SECRET", woo.consumer_secret)
    assert cli(etc, capsys, "sync")[0] == 0
    monkeypatch.delenv("MW_DEFECTS_KEY")
    monkeypatch.delenv("MW_DEFECTS_SECRET")
    ref = next(iter(claims(etc, capsys)))
    for args in (["claims"], ["plan"], ["plan", "--json"], ["explain", ref], ["status"], ["tasks"]):
        code, _, err = cli(etc, capsys, *args)
        assert (code, err) == (0, ""), args
    code, _, err = cli(etc, capsys, "sync")
    assert code == 1 and "shop.auth.consumer_key: environment variable MW_DEFECTS_KEY is not set" in err


# --- 5. a mail with attach_letter leaves nothing in the print folder --------------------------------------------------


def test_a_mail_with_attach_letter_carries_the_pdf_and_leaves_the_print_folder_empty(
        tmp_path: Path, woo, db_url: str, smtp: tuple[Inbox, int]) -> None:
    """The PDF goes to the customer attached to the mail; the print folder is for letters someone must post."""
    inbox, port = smtp
    extra = RATES + MERCHANT + (f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
                                'sender = "mahnung@gartenglueck.test"\nattach_letter = true\n'
                                '\n[policy.stages.reminder]\nchannel = "email"\n')
    etc = config(tmp_path, woo, db_url, extra)
    [result] = run_at(etc)
    assert result.ok and result.outcome.sent > 0 and result.outcome.letters == 0, result.as_dict()
    assert len(inbox.envelopes) == result.outcome.sent and customer_notes(woo) == []
    for envelope in inbox.envelopes:
        mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
        [pdf] = [part for part in mail.iter_attachments() if part.get_content_type() == "application/pdf"]
        assert pdf.get_filename().endswith(".pdf")
        text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.get_payload(decode=True))).pages)
        assert "DE14 3704 0044 1234 5678 90" in text
    letters = etc / "letters"
    assert not letters.exists() or not [p for p in letters.rglob("*") if p.is_file()]


# --- 6. the executor's bookkeeping ------------------------------------------------------------------------------------


def test_a_letter_that_fails_leaves_no_went_out_as_a_letter_task(tmp_path: Path, woo, db_url: str) -> None:
    """A customer without e-mail gets a letter, and a task "post it, find an address" only once it exists: when the
    letter cannot be written, there is no task, no stage in the ledger, and the row says why."""
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "blocker").write_text("a file where the print folder should be", encoding="utf-8")
    etc = config(tmp_path, woo, db_url, RATES + MERCHANT.replace('folder = "letters"', 'folder = "blocker/letters"'))
    decided = sync_and_decide(etc)
    claim = query(etc, select(Claim).where(Claim.id == decided.new[0]["claim_id"]))[0]
    woo.update_order(int(claim.order_id), billing=dict(woo.order(int(claim.order_id))["billing"], email=""))
    [result] = run_at(etc, sync=False)
    assert result.outcome.letters == 0 and result.outcome.tasks == 0
    assert query(etc, select(Task)) == []
    assert query(etc, select(LedgerEntry).where(LedgerEntry.claim_id == claim.id, LedgerEntry.kind == "stage")) == []
    [row] = query(etc, select(OutboxRow).where(OutboxRow.claim_id == claim.id))
    assert row.state in (OutboxState.DEAD, OutboxState.PENDING) and "blocker" in row.last_error
    assert int(claim.order_id) not in {oid for oid, _ in customer_notes(woo)}


def test_ledger_entries_of_the_executor_say_executor(tmp_path: Path, woo, db_url: str) -> None:
    """What `run` records is told apart from what a person did at the command line (source "cli")."""
    etc = config(tmp_path, woo, db_url, RATES + MERCHANT)
    [result] = run_at(etc)
    assert result.ok and result.outcome.sent > 0
    entries = query(etc, select(LedgerEntry).where(LedgerEntry.kind == "stage"))
    assert len(entries) == result.outcome.sent and {(e.source, e.actor) for e in entries} == {("executor", "mahnwerk")}


def test_a_failing_export_hook_leaves_the_exported_claims_exported(tmp_path: Path, woo, db_url: str) -> None:
    """The export file is written before the upload command runs: a failing command is reported and gives a person
    the upload as a task, but every row of the batch is done and its claim is with the agency."""
    hook = 'command = ["/bin/sh", "-c", "echo upload refused >&2; exit 3"]\n'
    etc = config(tmp_path, woo, db_url, RATES + MERCHANT.replace('folder = "exports"\n', 'folder = "exports"\n' + hook)
                 + AGENCY_FIRST)
    [result] = run_at(etc)
    summary = result.as_dict()
    assert result.outcome.exports > 0 and result.outcome.retrying == result.outcome.dead == 0, summary
    assert any("upload refused" in e and "exit code 3" in e for e in summary["errors"]), summary
    rows = query(etc, select(OutboxRow).where(OutboxRow.kind == "handover"))
    assert rows and {r.state for r in rows} == {OutboxState.DONE} and all(r.last_error == "" for r in rows)
    assert len(query(etc, select(Claim).where(Claim.state == ClaimState.IN_COLLECTION))) == len(rows)
    [task] = query(etc, select(Task))
    assert task.kind == "upload_export" and "upload refused" in task.text
    entries = query(etc, select(LedgerEntry).where(LedgerEntry.kind == "stage"))
    assert len(entries) == len(rows) and {(e.source, e.actor) for e in entries} == {("executor", "mahnwerk")}


def test_a_failed_export_fails_only_the_rows_it_held(tmp_path: Path, woo, db_url: str, monkeypatch) -> None:
    """Rows an interrupted run already exported (their claims are in a manifest) are finished; a new batch that
    cannot be written fails only its own rows."""
    etc = config(tmp_path, woo, db_url, RATES + MERCHANT + AGENCY_FIRST)

    def crash(self, session, row) -> None:
        raise RuntimeError("killed after the export was written")

    with monkeypatch.context() as patch:
        patch.setattr(handover.Handover, "_finish", crash)
        with pytest.raises(RuntimeError, match="killed"):
            run_at(etc)
    exported = query(etc, select(OutboxRow).where(OutboxRow.kind == "handover"))
    assert exported and {r.state for r in exported} == {OutboxState.SENDING}
    assert list((etc / "exports").glob("*.manifest.json"))

    def full(*args, **kwargs):
        raise ExportError("no space left on device")

    monkeypatch.setattr(handover, "write_batch", full)
    [result] = run_at(etc, 5)  # more claims are due for the agency by then
    rows = {r.id: r for r in query(etc, select(OutboxRow).where(OutboxRow.kind == "handover"))}
    fresh = [r for id_, r in rows.items() if id_ not in {e.id for e in exported}]
    assert fresh, "the test needs claims that fall due for the agency between the two runs"
    assert {rows[e.id].state for e in exported} == {OutboxState.DONE}
    assert all(rows[e.id].last_error == "" for e in exported)
    assert all(r.state == OutboxState.PENDING and "no space left" in r.last_error for r in fresh)
    assert result.outcome.exports == len(exported) and result.outcome.retrying == len(fresh)


def test_unreadable_line_items_are_reported_not_dropped(tmp_path: Path, woo, db_url: str) -> None:
    """A line item the hand-over cannot read is left out of the export, and `run` says so, naming the order."""
    etc = config(tmp_path, woo, db_url, RATES + MERCHANT + AGENCY_FIRST)
    assert main(["--config-dir", str(etc), "sync"]) == 0
    claim = min(query(etc, select(Claim).where(Claim.state == ClaimState.OPEN)), key=lambda c: c.due_date)
    order = woo.order(int(claim.order_id))
    woo.update_order(int(claim.order_id), line_items=[*order["line_items"], {"name": "Gutschein", "quantity": 1,
                                                                              "total": "zwölf", "total_tax": "0"}])
    [result] = run_at(etc)
    assert result.outcome.exports > 0
    errors = result.as_dict()["errors"]
    assert [e for e in errors if e.startswith(f"acme:{claim.order_number}: a line item left out of the agency export")
            and "'zwölf'" in e], errors


# --- 7. usage errors are not configuration errors ---------------------------------------------------------------------


def test_usage_errors_are_not_called_configuration_errors(tmp_path: Path, woo, db_url: str, capsys) -> None:
    """A claim written without its shop, a claim that does not exist, a task that is not due: the person typed
    something wrong, the configuration is fine. Exit 2 like click's own usage errors, with "error:"."""
    etc = config(tmp_path, woo, db_url, RATES)
    assert cli(etc, capsys, "sync")[0] == 0
    ref = next(iter(claims(etc, capsys)))
    for args, message in ((["explain", "1000"], 'a claim is written SHOP:ORDER_NUMBER, like "acme:1042" (got "1000")'),
                          (["explain", "acme:999999"], "no claim acme:999999 in the store"),
                          (["tasks", "done", "acme:999999"], "no claim acme:999999 in the store"),
                          (["tasks", "done", ref], f"{ref} has no task due")):
        code, _, err = cli(etc, capsys, *args)
        assert code == 2 and err.startswith(f"error: {message}") and "configuration" not in err, (args, err)
    code, _, err = cli(etc, capsys, "outbox", "done", "999999")  # click's own usage error: the same exit code
    assert code == 2 and "Error: outbox row 999999 is not a dead letter" in err


# --- 8. the database is private ---------------------------------------------------------------------------------------


def test_the_sqlite_file_is_created_0600_in_a_0700_folder(tmp_path: Path) -> None:
    """Customers' names, addresses and debts: the file (and SQLite's -wal beside it) readable by the owner only,
    the folders Mahnwerk creates for it 0700, whatever the umask lets others read."""
    old = os.umask(0o022)
    try:
        store = Store(f"sqlite:///{tmp_path / 'var' / 'mahnwerk' / 'mahnwerk.db'}")
        store.close()
    finally:
        os.umask(old)
    for folder in (tmp_path / "var", tmp_path / "var" / "mahnwerk"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    files = list((tmp_path / "var" / "mahnwerk").glob("mahnwerk.db*"))
    assert tmp_path / "var" / "mahnwerk" / "mahnwerk.db" in files
    assert {f.name: stat.S_IMODE(f.stat().st_mode) for f in files} == {f.name: 0o600 for f in files}


def test_an_existing_folder_keeps_its_mode(tmp_path: Path) -> None:
    """A folder the merchant made (say /var/lib/mahnwerk from systemd's StateDirectory) is not changed."""
    (tmp_path / "shared").mkdir(mode=0o755)
    os.chmod(tmp_path / "shared", 0o755)
    Store(f"sqlite:///{tmp_path / 'shared' / 'm.db'}").close()
    assert stat.S_IMODE((tmp_path / "shared").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "shared" / "m.db").stat().st_mode) == 0o600


def test_the_service_runs_with_umask_0077() -> None:
    """Letters, exports and the database the daemon writes are private to the mahnwerk user."""
    lines = (ROOT / "docs" / "mahnwerk.service").read_text(encoding="utf-8").splitlines()
    assert "UMask=0077" in lines and "StateDirectoryMode=0700" in lines
