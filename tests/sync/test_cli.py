"""The command line, called in-process through `main([...])`, against the sandbox shop and a real SQLite file."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from mahnwerk.sync.cli.main import main
from tests.support import write_config

CLAIM_KEYS = {"shop", "order_id", "order_number", "state", "open_amount", "currency", "due_date", "days_overdue"}


def config_for(tmp_path: Path, woo, **shop: str) -> Path:
    """A config folder with one shop pointing at the sandbox and a SQLite file."""
    entry = {"shop_id": "acme", "url": woo.url, "key": woo.consumer_key, "secret": woo.consumer_secret} | shop
    return write_config(tmp_path / "etc", f"sqlite:///{tmp_path / 'm.db'}", [entry])


def test_config_errors_name_file_line_and_key_with_exit_2(tmp_path, capsys) -> None:
    """A typo and a bad duration are both reported, each with file:line: key, and the exit code is 2."""
    (tmp_path / "shops").mkdir()
    (tmp_path / "shops" / "acme.toml").write_text(
        '[shop]\nid = "acme"\nkind = "woocommerce"\nurl = "https://s.example"\ntimezone = "Europe/Berlin"\n'
        'tiemzone = "x"\n[shop.auth]\nconsumer_key = "k"\nconsumer_secret = "s"\n[sync]\ninterval = "often"\n')
    assert main(["--config-dir", str(tmp_path), "check"]) == 2
    err = capsys.readouterr().err
    assert 'shops/acme.toml:6: shop.tiemzone: unknown key "tiemzone"; did you mean "timezone"?' in err
    assert 'shops/acme.toml:11: sync.interval: expected a duration like "5m", got "often"' in err


def test_missing_config_dir_is_a_config_error(tmp_path, capsys) -> None:
    """Pointing at a folder that does not exist says so and how to fix it."""
    assert main(["--config-dir", str(tmp_path / "nope"), "sync"]) == 2
    assert "configuration directory not found" in capsys.readouterr().err


def test_check_reports_the_invoice_methods_of_a_good_shop(tmp_path, woo, capsys) -> None:
    """check finds the shop, accepts the credentials and lists bacs and cheque as invoice methods."""
    assert main(["--config-dir", str(config_for(tmp_path, woo)), "check", "--json"]) == 0
    [verdict] = json.loads(capsys.readouterr().out)
    assert verdict["ok"] and verdict["authenticated"]
    assert verdict["invoice_methods"] == {"bacs": True, "cheque": True}
    assert verdict["missing_methods"] == ["invoice"]


def test_check_fails_on_wrong_secret_without_showing_it(tmp_path, woo, capsys) -> None:
    """A wrong secret makes the verdict FAILED, exit 1, and the secret is never printed."""
    secret = "cs_" + "9" * 40
    assert main(["--config-dir", str(config_for(tmp_path, woo, secret=secret)), "check"]) == 1
    out = capsys.readouterr()
    assert "FAILED" in out.out and "Consumer secret is invalid" in out.out and secret not in out.out + out.err


def test_check_fails_on_unreachable_shop(tmp_path, woo, capsys) -> None:
    """A shop nobody answers for is reported as FAILED (after its retries), exit 1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again at once: nothing listens there
    folder = config_for(tmp_path, woo, url=f"http://127.0.0.1:{port}",
                        extra='[http]\nmax_attempts = 2\nmax_backoff = "1s"')
    assert main(["--config-dir", str(folder), "check"]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "cannot connect: Connection refused" in out


def test_check_names_a_status_the_shop_does_not_know(tmp_path, woo, capsys) -> None:
    """The incremental read lists the configured statuses by name; one the shop never registered fails `check`
    with the shop's own words (WooCommerce: 400 rest_invalid_param, "status[7] is not one of ...")."""
    folder = config_for(tmp_path, woo, extra='[statuses]\nopen = ["on-hold", "invoiced"]')
    assert main(["--config-dir", str(folder), "check"]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "status[7] is not one of any, trash, auto-draft" in out and "[statuses]" in out


def test_check_prints_config_words_in_brackets_literally(tmp_path, woo, capsys) -> None:
    """A warning naming [[policy.base_rates]] keeps its brackets (rich markup swallowed them: "as [] (table").
    The shipped Basiszinssatz table ends 2026-06-30, so a shop without configured rates gets that warning."""
    assert main(["--config-dir", str(config_for(tmp_path, woo)), "check"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert 'add the published rate as [[policy.base_rates]] (table = "de")' in out


def test_sync_then_claims_json(tmp_path, woo, capsys) -> None:
    """sync mirrors the shop; claims --json lists open claims with the fixed field names and string amounts."""
    folder = str(config_for(tmp_path, woo))
    assert main(["--config-dir", folder, "sync", "--json"]) == 0
    [summary] = json.loads(capsys.readouterr().out)
    assert summary["ok"] and summary["new"] > 0
    assert main(["--config-dir", folder, "claims", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == summary["new"] and all(set(r) >= CLAIM_KEYS for r in rows)
    assert all(isinstance(r["open_amount"], str) and r["state"] == "open" for r in rows)
    assert all(isinstance(r["days_overdue"], int) and r["days_overdue"] >= 0 for r in rows)


def test_claims_table_shows_aging_and_currency_totals(tmp_path, woo, capsys) -> None:
    """The human view has the claims table and the aging totals per currency."""
    folder = str(config_for(tmp_path, woo))
    main(["--config-dir", folder, "sync"])
    capsys.readouterr()
    assert main(["--config-dir", folder, "claims", "--state", "all"]) == 0
    out = capsys.readouterr().out
    assert "Claims (all)" in out and "Open claims by age" in out and "EUR" in out


def test_sync_unknown_shop_suggests_the_right_one(tmp_path, woo, capsys) -> None:
    """--shop with a typo is a configuration error with a did-you-mean."""
    assert main(["--config-dir", str(config_for(tmp_path, woo)), "sync", "--shop", "acmee"]) == 2
    assert 'did you mean "acme"' in capsys.readouterr().err


def test_demo_runs_self_contained(capsys) -> None:
    """The demo starts its own sandbox, syncs and prints claims with aging, in one call."""
    assert main(["demo", "--orders", "80"]) == 0
    out = capsys.readouterr().out
    assert "Claims (open)" in out and "Open claims by age" in out and "Quarantined records" in out


def test_the_demo_runs_a_shopware_shop_through_the_whole_flow(capsys) -> None:
    """`demo --kind shopware6`: the Shopware sandbox, its mailer sending the notices, a statement paying claims."""
    from mahnwerk.connectors.shopware6.auth import forget_tokens

    forget_tokens()
    assert main(["demo", "--kind", "shopware6", "--orders", "60"]) == 0
    out = capsys.readouterr().out
    assert "a sandbox Shopware 6 shop with 60 orders" in out and "Quarantined records" in out
    assert "notices to customers; the first, as Shopware 6 sent it to" in out and "Guten Tag" in out
    assert "paid in full" in out and "dead': 0" in out


def test_check_hints_at_permalinks_when_the_api_is_not_found(tmp_path, woo, capsys) -> None:
    """A shop URL where no REST API answers gets a hint about the base URL and permalinks."""
    folder = config_for(tmp_path, woo, url=woo.url + "/shop")
    assert main(["--config-dir", str(folder), "check"]) == 1
    assert "permalinks" in capsys.readouterr().out


def test_customer_text_cannot_inject_terminal_markup(tmp_path, woo, capsys) -> None:
    """Rich markup in a customer's name is printed literally, never interpreted."""
    woo.add_order({"status": "on-hold", "payment_method": "bacs", "currency": "EUR", "total": "12.00",
                   "billing": {"first_name": "[bold red]Evil[/bold red]", "last_name": "[link=http://x]y[/link]",
                               "country": "DE", "email": "e@example.org"}})
    folder = str(config_for(tmp_path, woo))
    main(["--config-dir", folder, "sync"])
    capsys.readouterr()
    main(["--config-dir", folder, "claims"])
    out = capsys.readouterr().out
    assert "[bold red]Evil[/bold red]" in out and "[link=http://x]y[/link]" in out
