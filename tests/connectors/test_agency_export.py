"""Agency export files: CSV and JSON content, formula neutralisation, the manifest, atomic files, the hook."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import os
import stat
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from mahnwerk.connectors.agency_export import (
    COLUMNS,
    DEFAULT_COLUMNS,
    Batch,
    ExportError,
    ExportFormat,
    ExportHookFailed,
    ExportItem,
    ExportRecord,
    HistoryLine,
    exported_claims,
    read_manifest,
    run_hook,
    unknown_columns,
    write_batch,
)
from mahnwerk.errors import MahnwerkError

BERLIN = timezone(timedelta(hours=2))
CREATED = datetime(2026, 11, 2, 6, 30, tzinfo=BERLIN)


def a_record(**changes: object) -> ExportRecord:
    """A handover of 1234.56 EUR to a customer in Köln, with some fields changed."""
    record = ExportRecord(
        kind="handover", claim="acme:1042", shop="acme", order_number="1042", invoice_number="RE-2026-0042",
        invoice_date=date(2026, 9, 1), due_date=date(2026, 9, 15), currency="EUR",
        principal=Decimal("1200.00"), fees=Decimal("5.00"), interest=Decimal("29.56"), flat_fee=Decimal("40.00"),
        paid=Decimal("40.00"), total=Decimal("1234.56"),
        name="Jürgen Weiß", company="Müller & Söhne GmbH", street="Hauptstraße 1", postcode="50667", city="Köln",
        country="DE", email="juergen@example.org", phone="+49 221 123456", default_since=date(2026, 9, 16),
        handed_over_on=date(2026, 11, 2),
        items=(ExportItem("Gartenschlauch", Decimal(2), Decimal("39.90")),
               ExportItem("Versand", Decimal(1), Decimal("4.90"))),
        history=(HistoryLine(date(2026, 10, 1), "reminder", "sent by shop note"),
                 HistoryLine(date(2026, 10, 15), "dunning_1", "sent by mail")),
        note="",
    )
    return dataclasses.replace(record, **changes)


def read_csv(path: Path, fmt: ExportFormat) -> list[list[str]]:
    """All rows of a written CSV file, read back the way an agency would."""
    with path.open(encoding=fmt.encoding, newline="") as f:
        return list(csv.reader(f, delimiter=fmt.delimiter))


def as_dicts(rows: list[list[str]]) -> list[dict[str, str]]:
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_csv_has_the_columns_as_header_and_one_row_per_record(tmp_path: Path) -> None:
    """Header = the configured columns; each record's values come back as written: ISO dates, 2-decimal money."""
    fmt = ExportFormat()
    records = [a_record(), a_record(claim="acme:1043", order_number="1043", kind="payment", total=Decimal(50),
                                    default_since=None)]
    batch = write_batch(tmp_path / "out", records, fmt, batch_id="b1", created_at=CREATED)
    rows = read_csv(batch.file, fmt)
    assert rows[0] == list(DEFAULT_COLUMNS) and len(rows) == 3
    first, second = as_dicts(rows)
    assert first["claim"] == "acme:1042" and first["invoice_date"] == "2026-09-01"
    assert Decimal(first["total"]) == Decimal("1234.56") and first["interest"] == "29.56"
    assert first["items"] == "2 × Gartenschlauch 39.90; 1 × Versand 4.90"
    assert first["history"] == "2026-10-01 reminder; 2026-10-15 dunning_1"
    assert first["name"] == "Jürgen Weiß" and first["city"] == "Köln" and first["company"] == "Müller & Söhne GmbH"
    assert first["phone"] == "'+49 221 123456"  # neutralised like every cell; see the hostile-values test
    assert second["kind"] == "payment" and second["total"] == "50.00" and second["default_since"] == ""
    assert "shop" not in first


def test_csv_columns_choose_and_order_the_cells(tmp_path: Path) -> None:
    """A merchant's column list decides which cells are written and in which order."""
    fmt = ExportFormat(columns=("invoice_number", "total", "shop"), delimiter=",")
    batch = write_batch(tmp_path, [a_record()], fmt, batch_id="b1", created_at=CREATED)
    assert read_csv(batch.file, fmt) == [["invoice_number", "total", "shop"], ["RE-2026-0042", "1234.56", "acme"]]


def test_decimal_comma_writes_money_the_german_way(tmp_path: Path) -> None:
    """With decimal_comma, money and item amounts use a comma; the manifest stays machine-readable."""
    fmt = ExportFormat(decimal_comma=True)
    batch = write_batch(tmp_path, [a_record(items=(ExportItem("Erde", Decimal("1.5"), Decimal("7.35")),))], fmt,
                        batch_id="b1", created_at=CREATED)
    (row,) = as_dicts(read_csv(batch.file, fmt))
    assert row["total"] == "1234,56" and row["fees"] == "5,00" and row["items"] == "1,5 × Erde 7,35"
    assert Decimal(row["total"].replace(",", ".")) == Decimal("1234.56")
    assert read_manifest(tmp_path, "b1")["totals"]["handover"] == {"EUR": "1234.56"}


@pytest.mark.parametrize("encoding", ["cp1252", "utf-8-sig", "utf-8"])
def test_encodings_keep_umlauts(tmp_path: Path, encoding: str) -> None:
    """cp1252 and utf-8 with BOM (what Excel likes) keep umlauts, ß and the × of the items cell intact."""
    fmt = ExportFormat(encoding=encoding)
    batch = write_batch(tmp_path, [a_record()], fmt, batch_id="b1", created_at=CREATED)
    raw = batch.file.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") == (encoding == "utf-8-sig")
    if encoding == "cp1252":
        assert "Jürgen Weiß".encode("cp1252") in raw
    (row,) = as_dicts(read_csv(batch.file, fmt))
    assert row["name"] == "Jürgen Weiß" and row["street"] == "Hauptstraße 1" and "2 × Gartenschlauch" in row["items"]


def test_a_name_the_encoding_cannot_hold_is_refused_with_claim_and_column(tmp_path: Path) -> None:
    """A customer name cp1252 cannot hold is an ExportError naming the claim and column, and nothing is written."""
    with pytest.raises(ExportError, match=r"claim acme:1042: column 'name'.*cp1252"):
        write_batch(tmp_path, [a_record(name="王小明")], ExportFormat(encoding="cp1252"), batch_id="b1",
                    created_at=CREATED)
    assert list(tmp_path.iterdir()) == []


HOSTILE = {
    "name": "=cmd|'/c calc'!A1",
    "company": "+SUM(A1)",
    "street": "-2+3",
    "city": "@foo",
    "note": "\t=1+1",
    "email": "\r=HYPERLINK(\"http://evil\")",
    "postcode": "{{7*7}}",
    "country": "<script>alert(1)</script>",
}


def test_hostile_values_come_back_as_text_and_never_as_formulas(tmp_path: Path) -> None:
    """No cell starts with = + - @ tab or CR; after the leading quote each value is the customer's text verbatim."""
    fmt = ExportFormat(columns=COLUMNS)
    batch = write_batch(tmp_path, [a_record(**HOSTILE), a_record(note="\r\n@x")], fmt, batch_id="b1",
                        created_at=CREATED)
    rows = read_csv(batch.file, fmt)
    assert len(rows) == 3
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    row = as_dicts(rows)[0]
    for column, value in HOSTILE.items():
        expected = value if value[0] in "{<" else "'" + value
        assert row[column] == expected
    assert as_dicts(rows)[1]["note"] == "'\r\n@x"


def test_money_must_be_decimal(tmp_path: Path) -> None:
    """A float amount is a bug upstream and is refused rather than rounded silently."""
    with pytest.raises(TypeError, match="money must be a Decimal"):
        write_batch(tmp_path, [a_record(total=1234.56)], ExportFormat(), batch_id="b1", created_at=CREATED)


def test_manifest_describes_the_file(tmp_path: Path) -> None:
    """Count, counts and totals per kind and currency, the data file's sha256 and the claims in it."""
    records = [
        a_record(),
        a_record(claim="acme:1043", total=Decimal("100.44")),
        a_record(claim="shop2:7", currency="CHF", total=Decimal(10)),
        a_record(claim="acme:1000", kind="payment", total=Decimal("25.50")),
        a_record(claim="acme:999", kind="recall", total=Decimal(80)),
    ]
    batch = write_batch(tmp_path, records, ExportFormat(), batch_id="2026-11-02-1", created_at=CREATED)
    manifest = read_manifest(tmp_path, "2026-11-02-1")
    assert manifest == json.loads(batch.manifest.read_text(encoding="utf-8"))
    assert manifest["batch_id"] == "2026-11-02-1" and manifest["file"] == "2026-11-02-1.csv"
    assert manifest["created_at"] == "2026-11-02T06:30:00+02:00" and manifest["format"] == "csv"
    assert manifest["count"] == 5 and manifest["counts"] == {"handover": 3, "payment": 1, "recall": 1}
    assert manifest["totals"] == {"handover": {"CHF": "10.00", "EUR": "1335.00"}, "payment": {"EUR": "25.50"},
                                  "recall": {"EUR": "80.00"}}
    assert manifest["sha256"] == hashlib.sha256(batch.file.read_bytes()).hexdigest() == batch.sha256
    assert manifest["claims"] == ["acme:1042", "acme:1043", "shop2:7", "acme:1000", "acme:999"]
    assert batch == Batch("2026-11-02-1", tmp_path / "2026-11-02-1.csv", tmp_path / "2026-11-02-1.manifest.json", 5,
                          {"handover": 3, "payment": 1, "recall": 1},
                          {"handover": {"EUR": Decimal("1335.00"), "CHF": Decimal(10)},
                           "payment": {"EUR": Decimal("25.50")}, "recall": {"EUR": Decimal(80)}},
                          batch.sha256)


def test_files_are_private_and_no_temp_files_remain(tmp_path: Path) -> None:
    """The new folder is 0o700, both files 0o600, and only the two files are left in it."""
    folder = tmp_path / "exports" / "acme"
    old_umask = os.umask(0o022)
    try:
        batch = write_batch(folder, [a_record()], ExportFormat(), batch_id="b1", created_at=CREATED)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(batch.file.stat().st_mode) == 0o600
    assert stat.S_IMODE(batch.manifest.stat().st_mode) == 0o600
    assert sorted(p.name for p in folder.iterdir()) == ["b1.csv", "b1.manifest.json"]


def test_a_batch_id_is_written_once(tmp_path: Path) -> None:
    """A second write_batch with the same id is refused and leaves the first batch untouched."""
    batch = write_batch(tmp_path, [a_record()], ExportFormat(), batch_id="b1", created_at=CREATED)
    before = batch.file.read_bytes()
    with pytest.raises(ExportError, match="batch b1 already exists") as caught:
        write_batch(tmp_path, [a_record(claim="acme:1")], ExportFormat(), batch_id="b1", created_at=CREATED)
    assert isinstance(caught.value, MahnwerkError)
    assert batch.file.read_bytes() == before and len(list(tmp_path.iterdir())) == 2


def test_a_data_file_without_manifest_is_a_crashed_run_and_is_replaced(tmp_path: Path) -> None:
    """Only the manifest commits a batch: a left-over data file neither counts as exported nor blocks the id."""
    (tmp_path / "b1.csv").write_text("half a fi", encoding="utf-8")
    assert read_manifest(tmp_path, "b1") is None and exported_claims(tmp_path) == {}
    batch = write_batch(tmp_path, [a_record()], ExportFormat(), batch_id="b1", created_at=CREATED)
    assert batch.file.read_bytes() != b"half a fi"


def test_exported_claims_finds_every_claim_and_kind(tmp_path: Path) -> None:
    """Scanning the manifests tells which claim went out as what, in which batch; the first batch wins."""
    assert exported_claims(tmp_path / "missing") == {}
    write_batch(tmp_path, [a_record(), a_record(claim="acme:7")], ExportFormat(), batch_id="b1", created_at=CREATED)
    write_batch(tmp_path, [a_record(kind="payment"), a_record(kind="recall")], ExportFormat(kind="json"),
                batch_id="b2", created_at=CREATED + timedelta(days=1))
    write_batch(tmp_path, [a_record(kind="payment")], ExportFormat(), batch_id="a3",
                created_at=CREATED + timedelta(days=2))
    assert exported_claims(tmp_path) == {
        "acme:1042/handover": "b1", "acme:7/handover": "b1", "acme:1042/payment": "b2", "acme:1042/recall": "b2",
    }


def test_a_broken_manifest_is_an_export_error(tmp_path: Path) -> None:
    """A manifest that is not JSON (edited by hand) is reported by its path instead of being skipped."""
    (tmp_path / "b9.manifest.json").write_text("{", encoding="utf-8")
    with pytest.raises(ExportError, match="b9.manifest.json"):
        exported_claims(tmp_path)


def test_json_round_trips_the_records(tmp_path: Path) -> None:
    """The JSON file is UTF-8 (not \\u-escaped) with every field: money as strings, dates ISO, lists of objects."""
    record = a_record(**HOSTILE)
    batch = write_batch(tmp_path, [record, a_record(default_since=None)], ExportFormat(kind="json"), batch_id="j1",
                        created_at=CREATED)
    raw = batch.file.read_bytes()
    assert batch.file.name == "j1.json" and "Jürgen".encode() in raw and b"\\u00fc" not in raw
    document = json.loads(raw.decode("utf-8"))
    assert document["batch_id"] == "j1" and len(document["records"]) == 2
    first = document["records"][0]
    assert set(first) == set(COLUMNS)
    assert first["total"] == "1234.56" and first["principal"] == "1200.00" and first["invoice_date"] == "2026-09-01"
    assert first["items"] == [{"name": "Gartenschlauch", "quantity": "2", "total": "39.90"},
                              {"name": "Versand", "quantity": "1", "total": "4.90"}]
    assert first["history"][0] == {"on": "2026-10-01", "event": "reminder", "detail": "sent by shop note"}
    assert document["records"][1]["default_since"] is None
    derived = {"flat_fee_note", "total_before_costs"}  # properties of the record, written for the agency
    back = ExportRecord(**{
        **{k: v for k, v in first.items() if k not in derived},
        **{k: Decimal(first[k]) for k in ("principal", "fees", "interest", "flat_fee", "paid", "total")},
        **{k: date.fromisoformat(first[k]) for k in ("invoice_date", "due_date", "default_since", "handed_over_on")},
        "items": tuple(ExportItem(i["name"], Decimal(i["quantity"]), Decimal(i["total"])) for i in first["items"]),
        "history": tuple(HistoryLine(date.fromisoformat(h["on"]), h["event"], h["detail"])
                         for h in first["history"]),
    })
    assert back == record  # hostile text is data in JSON: nothing is prefixed
    assert read_manifest(tmp_path, "j1")["sha256"] == hashlib.sha256(raw).hexdigest()


def test_unknown_columns_are_named_for_the_config_check() -> None:
    """The config validation gets every unknown column name; a format built with one is a bug."""
    assert unknown_columns(["claim", "iban", "total", "Name"]) == ["iban", "Name"]
    assert unknown_columns(COLUMNS) == [] and set(DEFAULT_COLUMNS) == set(COLUMNS) - {"shop"}
    with pytest.raises(ValueError, match="iban"):
        ExportFormat(columns=("claim", "iban"))


def script(tmp_path: Path, body: str) -> Path:
    """An executable /bin/sh script in tmp_path."""
    path = tmp_path / "hook.sh"
    path.write_text("#!/bin/sh\n" + body, encoding="utf-8")
    path.chmod(0o700)
    return path


@pytest.fixture
def batch(tmp_path: Path) -> Batch:
    return write_batch(tmp_path / "out", [a_record()], ExportFormat(), batch_id="b1", created_at=CREATED)


def test_hook_gets_both_paths_as_arguments_and_in_its_environment(tmp_path: Path, batch: Batch) -> None:
    """The command runs in the export folder with the two paths appended and set as MAHNWERK_EXPORT_* variables."""
    seen = tmp_path / "seen.txt"
    hook = script(tmp_path, f'printf "%s\\n" "$@" "$MAHNWERK_EXPORT_FILE" "$MAHNWERK_EXPORT_MANIFEST" "$PWD" '
                            f'"$AGENCY_HOST" > "{seen}"\n')
    run_hook([str(hook), "--upload"], batch, env={"AGENCY_HOST": "sftp.agency.test", "PATH": "/usr/bin:/bin"})
    assert seen.read_text(encoding="utf-8").splitlines() == [
        "--upload", str(batch.file), str(batch.manifest), str(batch.file), str(batch.manifest),
        str(batch.file.parent), "sftp.agency.test",
    ]


def test_hook_exit_code_and_stderr_are_reported(tmp_path: Path, batch: Batch) -> None:
    """A non-zero exit is an ExportHookFailed naming the command, the code and the end of stderr."""
    hook = script(tmp_path, 'echo "connecting" >&2\necho "sftp: permission denied" >&2\nexit 3\n')
    with pytest.raises(ExportHookFailed) as caught:
        run_hook([str(hook)], batch)
    error = caught.value
    assert error.returncode == 3 and "sftp: permission denied" in error.stderr and error.command == [str(hook)]
    assert str(hook) in str(error) and "exit code 3" in str(error) and "permission denied" in str(error)
    assert isinstance(error, ExportError) and isinstance(error, MahnwerkError)


def test_hook_that_hangs_is_killed_with_its_children(tmp_path: Path, batch: Batch) -> None:
    """A timeout kills the hook's whole process group and is reported as a failure without an exit code."""
    hook = script(tmp_path, 'echo "waiting for the agency" >&2\nsleep 30\n')
    started = time.monotonic()
    with pytest.raises(ExportHookFailed, match="timed out after 0.5 s: waiting for the agency") as caught:
        run_hook([str(hook)], batch, timeout=0.5)
    assert caught.value.returncode is None and time.monotonic() - started < 10


def test_missing_hook_program_is_reported(tmp_path: Path, batch: Batch) -> None:
    """A command that does not exist is an ExportHookFailed naming it, not a FileNotFoundError."""
    with pytest.raises(ExportHookFailed, match="no-such-upload.*cannot start") as caught:
        run_hook([str(tmp_path / "no-such-upload")], batch)
    assert caught.value.returncode is None


def test_the_flat_fee_is_credited_against_collection_costs_in_the_csv(tmp_path: Path) -> None:
    """The €40 flat fee is named as credited against the agency's costs (§288(5) sentence 3 BGB), and the amount the
    agency adds its costs to leaves it out: it is never collected on top of them."""
    fmt = ExportFormat(decimal_comma=True)
    records = [a_record(), a_record(claim="acme:1043", order_number="1043", flat_fee=Decimal(0),
                                    total=Decimal("1194.56"))]
    batch = write_batch(tmp_path, records, fmt, batch_id="f1", created_at=CREATED)
    rows = read_csv(batch.file, fmt)
    header = rows[0]
    assert header.index("flat_fee_note") == header.index("flat_fee") + 1
    assert header.index("total_before_costs") == header.index("total") + 1
    business, consumer = as_dicts(rows)
    # 1200.00 + 5.00 fees + 29.56 interest + 40.00 flat fee − 40.00 paid = 1234.56; less the flat fee: 1194.56.
    assert (business["flat_fee"], business["total"], business["total_before_costs"]) == ("40,00", "1234,56", "1194,56")
    assert "credited against collection costs (§288(5) sentence 3 BGB)" in business["flat_fee_note"]
    assert "not payable in addition" in business["flat_fee_note"]
    # No flat fee: no note, and the agency adds its costs to the whole open amount.
    assert (consumer["flat_fee_note"], consumer["total"], consumer["total_before_costs"]) == ("", "1194,56", "1194,56")
    manifest = read_manifest(tmp_path, "f1")
    assert manifest["totals"]["handover"] == {"EUR": "2429.12"}  # 1234.56 + 1194.56
    assert manifest["flat_fees"] == {"EUR": "40.00"} and "§288(5) sentence 3" in manifest["flat_fee_note"]


def test_a_batch_without_flat_fees_says_nothing_about_them(tmp_path: Path) -> None:
    """Consumers owe no flat fee: no note in the records or the manifest."""
    write_batch(tmp_path, [a_record(flat_fee=Decimal(0))], ExportFormat(kind="json"), batch_id="f2",
                created_at=CREATED)
    record = json.loads((tmp_path / "f2.json").read_text(encoding="utf-8"))["records"][0]
    assert record["flat_fee_note"] == "" and record["total_before_costs"] == record["total"] == "1234.56"
    assert "flat_fees" not in read_manifest(tmp_path, "f2")


def test_a_payment_record_keeps_its_amount_as_the_total_before_costs() -> None:
    """A payment reported after the hand-over is an amount received: nothing is taken off it."""
    payment = a_record(kind="payment", total=Decimal("50.00"))
    assert payment.total_before_costs == Decimal("50.00")
