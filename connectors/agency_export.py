"""Files for a collection agency: one batch of hand-overs, payments and recalls as CSV or JSON, plus a manifest.

A batch is two files in the export folder, each written atomically with mode 0o600:

    <batch_id>.csv | <batch_id>.json     the records, data-minimal: only what an agency needs
    <batch_id>.manifest.json             written last: count, totals, sha256 of the data file, the claims in it

A business's €40 flat fee (Verzugspauschale) is credited against the costs of collection (§288(5) sentence 3 BGB):
an agency that charges its own costs must not collect the flat fee on top. So each record says so
(`flat_fee_note`), and `total_before_costs` is the amount the agency adds its costs to (the open amount less the
flat fee; should its costs be lower than the flat fee, the flat fee is owed instead of them).

The manifest is the commit mark. A data file without a manifest is the leftover of a crashed run and is
replaced by the next `write_batch` with that id; a batch id whose manifest exists is refused. After a crash the
caller asks `exported_claims(folder)` which claims already went out.

    MahnwerkError
    └── ExportError             the batch cannot be written, or its id is taken, or a manifest is unreadable
        └── ExportHookFailed    the merchant's post-export command failed: .command, .returncode, .stderr
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import hashlib
import io
import json
import os
import re
import shlex
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from mahnwerk.connectors.files import write_private
from mahnwerk.errors import MahnwerkError

KINDS = ("handover", "payment", "recall")
MONEY_COLUMNS = frozenset({"principal", "fees", "interest", "flat_fee", "paid", "total", "total_before_costs"})
FLAT_FEE_NOTE = ("credited against collection costs (§288(5) sentence 3 BGB): not payable in addition to the "
                 "agency's costs; total_before_costs excludes it")
CENT = Decimal("0.01")
# OWASP "CSV Injection": spreadsheets run a cell starting with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
SAFE_BATCH_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class ExportError(MahnwerkError):
    """Raised when a batch cannot be written, its id is already taken, or a manifest cannot be read."""


class ExportHookFailed(ExportError):
    """Raised when the post-export command exits non-zero, times out or cannot be started."""

    def __init__(self, message: str, *, command: Sequence[str], returncode: int | None, stderr: str) -> None:
        self.command, self.returncode, self.stderr = list(command), returncode, stderr
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class ExportItem:
    """One order line as the agency sees it."""

    name: str
    quantity: Decimal
    total: Decimal


@dataclass(frozen=True, slots=True)
class HistoryLine:
    """One step of the dunning history, e.g. (2026-10-01, "reminder", "sent by shop note")."""

    on: date
    event: str
    detail: str


@dataclass(frozen=True, slots=True)
class ExportRecord:
    """One line for the agency: a new claim (handover), a payment received after hand-over, or a recall."""

    kind: str
    claim: str
    shop: str
    order_number: str
    invoice_number: str
    invoice_date: date
    due_date: date
    currency: str
    principal: Decimal
    fees: Decimal
    interest: Decimal
    flat_fee: Decimal
    paid: Decimal
    total: Decimal  # open amount handed over, or the payment amount for kind "payment"
    name: str
    company: str
    street: str
    postcode: str
    city: str
    country: str
    email: str
    phone: str
    default_since: date | None
    handed_over_on: date
    items: tuple[ExportItem, ...] = ()
    history: tuple[HistoryLine, ...] = ()
    note: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"claim {self.claim}: kind must be one of {', '.join(KINDS)} (got {self.kind!r})")

    @property
    def flat_fee_note(self) -> str:
        """How the agency treats the flat fee: credited against its collection costs (§288(5) sentence 3 BGB)."""
        return FLAT_FEE_NOTE if self.kind == "handover" and self.flat_fee > 0 else ""

    @property
    def total_before_costs(self) -> Decimal:
        """The open amount the agency adds its collection costs to: `total` less the flat fee they absorb."""
        return self.total - self.flat_fee if self.kind == "handover" else self.total


def _columns() -> tuple[str, ...]:
    names = [f.name for f in fields(ExportRecord)]
    names.insert(names.index("flat_fee") + 1, "flat_fee_note")
    names.insert(names.index("total") + 1, "total_before_costs")
    return tuple(names)


COLUMNS: tuple[str, ...] = _columns()  # the fields, and beside the flat fee and the total what they mean for costs
DEFAULT_COLUMNS: tuple[str, ...] = tuple(c for c in COLUMNS if c != "shop")  # the claim key names the shop


def unknown_columns(columns: Sequence[str]) -> list[str]:
    """The names in `columns` that are not export columns, in their order (for config validation)."""
    return [c for c in columns if c not in COLUMNS]


@dataclass(frozen=True, slots=True)
class ExportFormat:
    """How a batch is written. JSON is always UTF-8 with every field; columns, delimiter etc. are for CSV."""

    kind: str = "csv"
    columns: tuple[str, ...] = DEFAULT_COLUMNS
    delimiter: str = ";"
    encoding: str = "utf-8"
    decimal_comma: bool = False  # German agencies often want "1234,56"

    def __post_init__(self) -> None:
        # The config has been validated by now, so a bad format here is a bug, not a merchant's mistake.
        if self.kind not in ("csv", "json"):
            raise ValueError(f"export format must be 'csv' or 'json' (got {self.kind!r})")
        if len(self.delimiter) != 1:
            raise ValueError(f"delimiter must be one character (got {self.delimiter!r})")
        if unknown := unknown_columns(self.columns):
            raise ValueError(f"unknown export columns: {', '.join(unknown)}")
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise ValueError(f"unknown encoding {self.encoding!r}") from None


@dataclass(frozen=True, slots=True)
class Batch:
    """A written batch: its files, how many records of each kind, totals per kind and currency, the file's hash."""

    batch_id: str
    file: Path
    manifest: Path
    count: int
    counts: Mapping[str, int]
    totals: Mapping[str, Mapping[str, Decimal]]  # kind -> currency -> sum of `total`
    sha256: str


def write_batch(
    folder: Path, records: Sequence[ExportRecord], fmt: ExportFormat, *, batch_id: str, created_at: datetime
) -> Batch:
    """Write the data file, then its manifest, atomically; refuse a batch id whose manifest already exists."""
    if not SAFE_BATCH_ID.fullmatch(batch_id):
        raise ValueError(f"batch id must be letters, digits, '.', '_' or '-' (got {batch_id!r})")
    if created_at.utcoffset() is None:
        raise ValueError(f"batch {batch_id}: created_at must be timezone-aware (got {created_at!r})")
    folder = Path(folder)
    manifest_path = folder / f"{batch_id}.manifest.json"
    if manifest_path.exists():
        raise ExportError(f"batch {batch_id} already exists in {folder}")
    if not folder.exists():
        try:
            folder.mkdir(parents=True, mode=0o700)
            folder.chmod(0o700)  # whatever the umask says
        except OSError as exc:
            raise ExportError(f"batch {batch_id}: cannot create folder {folder}: {exc}") from exc

    if fmt.kind == "csv":
        data = csv_bytes(records, fmt)
    else:
        data = json_bytes(records, batch_id=batch_id, created_at=created_at)
    data_path = folder / f"{batch_id}.{fmt.kind}"
    write_atomically(data_path, data)

    counts = {kind: sum(r.kind == kind for r in records) for kind in KINDS}
    totals: dict[str, dict[str, Decimal]] = {kind: {} for kind in KINDS}
    credited: dict[str, Decimal] = {}  # flat fees handed over, per currency: credited against collection costs
    for r in records:
        totals[r.kind][r.currency] = totals[r.kind].get(r.currency, Decimal(0)) + r.total
        if r.kind == "handover" and r.flat_fee > 0:
            credited[r.currency] = credited.get(r.currency, Decimal(0)) + r.flat_fee
    batch = Batch(batch_id, data_path, manifest_path, len(records), counts, totals, hashlib.sha256(data).hexdigest())
    manifest = {
        "batch_id": batch_id,
        "created_at": created_at.isoformat(),
        "file": data_path.name,
        "format": fmt.kind,
        **({"encoding": fmt.encoding, "delimiter": fmt.delimiter, "decimal_comma": fmt.decimal_comma,
            "columns": list(fmt.columns)} if fmt.kind == "csv" else {"encoding": "utf-8"}),
        "count": batch.count,
        "counts": counts,
        "totals": {kind: {cur: money(sum_, decimal_comma=False) for cur, sum_ in sorted(by_cur.items())}
                   for kind, by_cur in totals.items()},
        **({"flat_fees": {cur: money(sum_, decimal_comma=False) for cur, sum_ in sorted(credited.items())},
            "flat_fee_note": "handover totals include these flat fees (§288(5) BGB); each is credited against the "
                             "collection costs of its claim (§288(5) sentence 3 BGB) and is not collected on top "
                             "of them"} if credited else {}),
        "sha256": batch.sha256,
        "claims": [r.claim for r in records],
        "claim_kinds": [f"{r.claim}/{r.kind}" for r in records],  # the keys of exported_claims()
    }
    write_atomically(manifest_path, json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8") + b"\n")
    return batch


def read_manifest(folder: Path, batch_id: str) -> dict[str, Any] | None:
    """The manifest of a batch, or None when the batch was never completed."""
    path = Path(folder) / f"{batch_id}.manifest.json"
    try:
        manifest: dict[str, Any] = json.loads(path.read_bytes())  # written by write_batch: an object
        return manifest
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ExportError(f"manifest {path} cannot be read: {exc}") from exc


def exported_claims(folder: Path) -> dict[str, str]:
    """Every exported "claim/kind" (e.g. "acme:1042/handover") with the id of the first batch that holds it."""
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    manifests = []
    for path in folder.glob("*.manifest.json"):
        manifest = read_manifest(folder, path.name.removesuffix(".manifest.json"))
        if manifest is not None:  # gone between glob and read
            manifests.append(manifest)
    found: dict[str, str] = {}
    # Oldest first: a claim in two batches (e.g. two payments) is reported with the batch that exported it first.
    for manifest in sorted(manifests, key=lambda m: (datetime.fromisoformat(m["created_at"]), m["batch_id"])):
        for key in manifest["claim_kinds"]:
            found.setdefault(key, manifest["batch_id"])
    return found


def run_hook(
    command: Sequence[str], batch: Batch, *, timeout: float = 300, env: Mapping[str, str] | None = None
) -> None:
    """Run the merchant's post-export command (no shell) with the data file and manifest paths appended.

    It runs in the export folder with `env` (default: this process's environment) plus MAHNWERK_EXPORT_FILE
    and MAHNWERK_EXPORT_MANIFEST. Exit code 0 is success; anything else raises ExportHookFailed.
    """
    argv = [*command, str(batch.file), str(batch.manifest)]
    environment = {**(os.environ if env is None else env),
                   "MAHNWERK_EXPORT_FILE": str(batch.file), "MAHNWERK_EXPORT_MANIFEST": str(batch.manifest)}
    shown = shlex.join(command)
    try:
        # A session of its own, so a timeout kills the whole group and no child of the script lingers.
        proc = subprocess.Popen(argv, cwd=batch.file.parent, env=environment, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    except OSError as exc:
        raise ExportHookFailed(f"export hook {shown}: cannot start: {exc}",
                               command=command, returncode=None, stderr="") from exc
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):  # it finished just now
            os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
        raise hook_failed(shown, command, f"timed out after {timeout:g} s", None, err) from None
    if proc.returncode != 0:
        raise hook_failed(shown, command, f"exit code {proc.returncode}", proc.returncode, err)


def hook_failed(shown: str, command: Sequence[str], what: str, returncode: int | None, err: bytes) -> ExportHookFailed:
    """The error for a failed hook, with the last lines of its stderr: enough to tell what went wrong."""
    stderr = "\n".join(err.decode("utf-8", errors="replace").strip().splitlines()[-10:])
    return ExportHookFailed(f"export hook {shown}: {what}" + (f": {stderr}" if stderr else ""),
                            command=command, returncode=returncode, stderr=stderr)


def csv_bytes(records: Sequence[ExportRecord], fmt: ExportFormat) -> bytes:
    """The CSV file: a header of `fmt.columns`, one row per record, every cell formula-neutralised."""
    rows = [list(fmt.columns)] + [[csv_cell(r, c, fmt.decimal_comma) for c in fmt.columns] for r in records]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=fmt.delimiter)
    # Every cell, header and money included, gets the same treatment: money is never negative in these
    # records, so no number of ours is touched, and one uniform rule cannot forget a column.
    writer.writerows([[neutralise(cell) for cell in row] for row in rows])
    try:
        return buffer.getvalue().encode(fmt.encoding)
    except UnicodeEncodeError:
        for record in records:  # name the claim and column rather than a byte offset
            for column in fmt.columns:
                try:
                    csv_cell(record, column, fmt.decimal_comma).encode(fmt.encoding)
                except UnicodeEncodeError as exc:
                    raise ExportError(f"claim {record.claim}: column '{column}': {exc.object[exc.start:exc.end]!r}"
                                      f" cannot be written in {fmt.encoding}") from None
        raise


def csv_cell(record: ExportRecord, column: str, decimal_comma: bool) -> str:
    """One CSV cell as text: money with 2 decimals, dates ISO, items and history each in one cell."""
    value = getattr(record, column)
    if column in MONEY_COLUMNS:
        return money(value, decimal_comma=decimal_comma)
    if column == "items":
        return "; ".join(f"{quantity(i.quantity, decimal_comma)} × {i.name} "
                         f"{money(i.total, decimal_comma=decimal_comma)}" for i in value)
    if column == "history":
        return "; ".join(f"{h.on.isoformat()} {h.event}" for h in value)
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value)


def neutralise(cell: str) -> str:
    """The cell with a leading ' when a spreadsheet would read it as a formula (OWASP CSV injection)."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def json_bytes(records: Sequence[ExportRecord], *, batch_id: str, created_at: datetime) -> bytes:
    """The JSON file: every field of every record; money as strings with 2 decimals, dates ISO, UTF-8."""
    def plain(record: ExportRecord) -> dict[str, object]:
        out: dict[str, object] = {}
        for name in COLUMNS:
            value = getattr(record, name)
            if name in MONEY_COLUMNS:
                out[name] = money(value, decimal_comma=False)
            elif name == "items":
                out[name] = [{"name": i.name, "quantity": quantity(i.quantity, False),
                              "total": money(i.total, decimal_comma=False)} for i in value]
            elif name == "history":
                out[name] = [{"on": h.on.isoformat(), "event": h.event, "detail": h.detail} for h in value]
            else:
                out[name] = value.isoformat() if isinstance(value, date) else value
        return out

    document = {"batch_id": batch_id, "created_at": created_at.isoformat(), "records": [plain(r) for r in records]}
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"


def money(value: Decimal, *, decimal_comma: bool) -> str:
    """A Decimal amount with exactly 2 decimals, "1234.56" or "1234,56"; a float is a bug and refused."""
    if not isinstance(value, Decimal):
        raise TypeError(f"money must be a Decimal (got {value!r} that is a {type(value).__name__})")
    text = str(value.quantize(CENT, rounding=ROUND_HALF_UP))
    return text.replace(".", ",") if decimal_comma else text


def quantity(value: Decimal, decimal_comma: bool) -> str:
    """A quantity without trailing zeros: 2, 1.5 (not 2.000 or 2E+0)."""
    text = format(Decimal(value).normalize(), "f")
    return text.replace(".", ",") if decimal_comma else text


def write_atomically(path: Path, data: bytes) -> None:
    """files.write_private, with its OSError as an ExportError naming the file."""
    try:
        write_private(path, data)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc}") from exc
