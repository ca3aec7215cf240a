"""plan, explain, tasks and the casework commands, end to end: the sandbox shop over HTTP, a real database
(SQLite and PostgreSQL), the command line in-process. Every change must land in the ledger with who and when."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from mahnwerk.sync.cli.main import main
from tests.support import write_config

PLAN_KEYS = {"shop", "order_id", "action", "due_on", "fee", "interest", "reason"}
# The shipped base-rate table ends where the published rates end; tests assume these rows (never the product).
RATES = """
[[policy.base_rates]]
table = "de"
valid_from = 2026-07-01
rate = "1.27"

[[policy.base_rates]]
table = "de"
valid_from = 2027-01-01
rate = "1.27"
"""


@pytest.fixture
def etc(tmp_path: Path, woo, db_url: str) -> Path:
    folder = write_config(tmp_path / "etc", db_url, [{"shop_id": "acme", "url": woo.url, "key": woo.consumer_key,
                                                      "secret": woo.consumer_secret, "extra": RATES}])
    assert main(["--config-dir", str(folder), "sync"]) == 0
    return folder


def run(etc: Path, capsys, *args: str, code: int = 0) -> str:
    capsys.readouterr()
    assert main(["--config-dir", str(etc), *args]) == code
    out = capsys.readouterr()
    return out.out if code == 0 else out.err


def plan(etc: Path, capsys, *args: str) -> dict[str, dict]:
    return {row["claim"]: row for row in json.loads(run(etc, capsys, "plan", "--json", *args))}


def test_plan_names_the_next_action_for_every_open_claim(etc: Path, capsys) -> None:
    rows = plan(etc, capsys)
    claims = json.loads(run(etc, capsys, "claims", "--json"))
    assert len(rows) == len(claims) > 0
    for row in rows.values():
        assert set(row) >= PLAN_KEYS
        assert row["action"] in ("reminder", "none") and row["reason"].startswith("due ")
        assert row["due_on"] is None or date.fromisoformat(row["due_on"])
    due = [r for r in rows.values() if r["status"] == "due"]
    assert due and all(r["fee"] == "0.00" and r["due_on"] == due[0]["due_on"] for r in due)  # reminders are free
    later = date.today() + timedelta(days=60)
    assert all(r["due_on"] == later.isoformat() for r in plan(etc, capsys, "--date", later.isoformat()).values()
               if r["status"] == "due")
    text = run(etc, capsys, "plan")
    assert "Next actions" in text and "reminder" in text


def test_casework_lands_in_the_ledger_with_who_and_when(etc: Path, capsys) -> None:
    ref = next(key for key, row in plan(etc, capsys).items() if row["status"] == "due")
    run(etc, capsys, "note", ref, "Customer called, promised to pay on Friday", "--by", "alice")
    run(etc, capsys, "hold", ref, "--reason", "dispute", "--note", "says the parcel never arrived", "--by", "alice")
    held = plan(etc, capsys)[ref]
    assert (held["action"], held["status"], held["due_on"]) == ("none", "on_hold", None)
    assert "dispute" in held["reason"]
    run(etc, capsys, "release", ref, "--by", "bob")
    resumed = plan(etc, capsys)[ref]
    assert resumed["action"] == "reminder"
    first = (date.today() + timedelta(days=7)).isoformat()
    out = run(etc, capsys, "instalments", ref, "--count", "3", "--first", first, "--by", "bob")
    assert "payment plan over" in out and first in out
    assert "later instalments stay due on their dates" in out  # [policy] plan_acceleration defaults to false
    assert plan(etc, capsys)[ref]["status"] == "in_plan"
    report = json.loads(run(etc, capsys, "explain", ref, "--json"))
    kinds = [(e["kind"], e["actor"]) for e in report["timeline"]]
    assert kinds == [("opened", None), ("note", "alice"), ("hold", "alice"), ("release", "bob"), ("plan", "bob")]
    assert report["status"] == "in_plan" and "instalment 1 of 3" in report["reason"]
    assert report["balance"]["total"] == report["balance"]["principal"]
    text = run(etc, capsys, "explain", ref)
    assert "Customer called" in text and "why:" in text


def test_mark_paid_closes_and_the_next_sync_keeps_it_paid(etc: Path, capsys) -> None:
    refs = [key for key, row in plan(etc, capsys).items() if row["status"] in ("due", "waiting")]
    full, part = refs[0], refs[1]
    outcome = json.loads(run(etc, capsys, "mark-paid", full, "--json", "--by", "carol"))
    assert outcome["closed"] and outcome["open_amount"] == "0.00"
    owed = plan(etc, capsys)[part]["open_amount"]
    outcome = json.loads(run(etc, capsys, "mark-paid", part, "--amount", "10.00", "--json"))
    assert not outcome["closed"] and outcome["paid"] == "10.00"
    assert plan(etc, capsys)[part]["open_amount"] == str(Decimal(owed) - Decimal("10.00"))
    assert full not in plan(etc, capsys)
    run(etc, capsys, "sync", "--reread")  # the shop still says on-hold: the claim stays paid
    closed = {f"{c['shop']}:{c['order_number']}": c for c in json.loads(run(etc, capsys, "claims", "--state",
                                                                           "closed", "--json"))}
    assert closed[full]["state"] == "paid"
    timeline = json.loads(run(etc, capsys, "explain", full, "--json"))["timeline"]
    assert [e["kind"] for e in timeline][-2:] == ["payment", "closed"] and timeline[-2]["actor"] == "carol"


def test_casework_mistakes_are_clear(etc: Path, capsys) -> None:
    ref = next(iter(plan(etc, capsys)))
    assert "SHOP:ORDER_NUMBER" in run(etc, capsys, "explain", "1042", code=2)
    assert "no claim acme:nope" in run(etc, capsys, "explain", "acme:nope", code=2)
    assert 'unknown shop "acmee"' in run(etc, capsys, "explain", "acmee:1", code=2)
    assert "not on hold" in run(etc, capsys, "release", ref, code=2)
    assert "no task due" in run(etc, capsys, "tasks", "done", ref, code=2)
    assert "is not a positive amount" in run(etc, capsys, "mark-paid", ref, "--amount", "-5", code=2)
    assert "'holiday' is not one of 'dispute'" in run(etc, capsys, "hold", ref, "--reason", "holiday", code=2)


def test_a_task_stage_is_listed_and_done(tmp_path: Path, woo, sqlite_url: str, capsys) -> None:
    """The merchant makes the first step a phone call; `tasks` lists it and `tasks done` moves the ladder on."""
    extra = RATES + '\n[policy.stages.reminder]\nkind = "task"\nchannel = "none"\n'
    etc = write_config(tmp_path / "etc", sqlite_url, [{"shop_id": "acme", "url": woo.url, "key": woo.consumer_key,
                                                       "secret": woo.consumer_secret, "extra": extra}])
    run(etc, capsys, "sync")
    tasks = json.loads(run(etc, capsys, "tasks", "--json"))
    assert tasks and all(t["action"] == "reminder" and t["kind"] == "task" for t in tasks)
    ref = tasks[0]["claim"]
    assert "task reminder done" in run(etc, capsys, "tasks", "done", ref, "--note", "reached voicemail")
    assert "task reminder skipped" in run(etc, capsys, "tasks", "skip", tasks[1]["claim"])
    after = plan(etc, capsys)[ref]
    assert (after["action"], after["status"]) == ("dunning_1", "waiting")
    assert ref not in {t["claim"] for t in json.loads(run(etc, capsys, "tasks", "--json"))}
