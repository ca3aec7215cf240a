"""Letter benchmark: milliseconds per postal dunning letter (PDF drawn and written), main's code against this one's.

    python bench/letters.py --letters 200 --main-python /path/to/main/venv/bin/python

The letters are the engine's notices of the `de-b2c` preset (reminder, 1st and 2nd dunning notice, each on the day
the engine sends it) for claims of the sandbox shop's customers (umlauts, Polish, Icelandic, Cyrillic and Japanese
names), three in four in German, with the merchant's legal lines in the footer, the GiroCode, DejaVu Sans: what
`mahnwerk run` writes into the print folder. Each letter is drawn (`connectors/letterpdf.render`) and written
(`write_private`: atomic, fsync'd) into a temporary folder, one after the other. A round:

- draws the first `--baseline` letters fpdf2's own way (`reuse_fonts=False`: the font file parsed for every letter,
  fpdf2 subsetting the fonts), as before issue 17;
- draws all of them as the code does now; the first letter, which reads the font files, is reported on its own and
  not in the figure; no font subsets are kept from the round before (as in a new process);
- compares the PDFs of the two ways byte for byte (creation date and document id aside).

With `--main-python` (an interpreter with main's mahnwerk installed, e.g. a venv with `pip install` of
`git archive main`) every round runs in a new process of it and then of this interpreter, taking turns, and
compares main's PDFs with this checkout's. CPU time (`time.process_time`) is given beside wall time: the machine is
shared. `--repeat` rounds; the median is the figure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import Any

import pypdf

from mahnwerk.connectors.files import write_private
from mahnwerk.connectors.letter import LetterContent, find_font
from mahnwerk.connectors.letterfonts import face
from mahnwerk.connectors.letterpdf import render
from mahnwerk.policy.engine import assess
from mahnwerk.policy.model import ClaimFacts, Event, StageDone
from mahnwerk.policy.notice import Addressee, notice_for
from mahnwerk.sandbox.people import PEOPLE
from mahnwerk.sync.outbox.letters import letter_content
from mahnwerk.sync.outbox.templates import Templates

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# The letter-layout tests' merchant (with the legal-form lines) and policy: the letters measured are the ones tested.
from tests.sync.test_letter_layout import MERCHANT, POLICY  # noqa: E402  (tests/ is importable once ROOT is on sys.path)


def letters(count: int) -> list[LetterContent]:
    """`count` letters: per customer the notices the engine sends one after the other, until there are enough."""
    templates, found = Templates(None), []
    number = 0
    while len(found) < count:
        first, last = PEOPLE[number % len(PEOPLE)]
        customer = Addressee(name=f"{first} {last}", address_1=f"Beispielweg {number + 1}", postcode="80331",
                             city="München", country="DE")
        principal = Decimal(19 + (number * 37) % 900) + Decimal("0.90")
        claim = ClaimFacts(f"bench:{number}", "EUR", principal, date(2025, 11, 17), date(2025, 12, 1), False)
        language = "en" if number % 4 == 3 else "de"
        history: list[Event] = []
        day = date(2025, 12, 8)
        for _ in range(3):
            result = assess(claim, history, day, POLICY)
            action = result.next
            if action is None or result.next_balance is None or action.kind != "send":
                break
            notice = notice_for(action, result.next_balance, invoice_amount=principal, default_on=result.default_on,
                                language=language, merchant=MERCHANT, customer=customer,
                                order_number=str(5000 + number), invoice_number=str(1000 + number),
                                invoice_date=claim.invoice_date, due_date=claim.due_date,
                                interest_rule=POLICY.interest_rule(claim))
            found.append(letter_content(notice, templates.render(notice, letter=True)))
            history.append(StageDone(action.on, action.stage, action.deadline, action.fee))
            day = action.deadline or action.on
        number += 1
    return found[:count]


def timed(contents: list[LetterContent], font: Path, folder: Path, *, reuse: bool) -> tuple[list[float], list[bytes]]:
    """Seconds per letter, and the PDFs."""
    seconds, pdfs = [], []
    for number, content in enumerate(contents):
        started = time.perf_counter()
        pdf = render(content, font, reuse_fonts=reuse)
        write_private(folder / f"{'reused' if reuse else 'parsed'}-{number}.pdf", pdf)
        seconds.append(time.perf_counter() - started)
        pdfs.append(pdf)
    return seconds, pdfs


def forget_subsets(font: Path) -> None:
    """Empty the faces' kept font subsets (connectors/letterfonts.py, `Face.subset`), as in a new process."""
    for path in (font, font.with_name(f"{font.stem}-Bold{font.suffix}")):
        if path.is_file():
            getattr(face(path), "subsets", {}).clear()  # main's faces keep none


def comparable(pdf: bytes) -> bytes:
    """The PDF without what differs between two runs of the same letter: the creation date and the id made from it."""
    return re.sub(rb"/ID \[[^]]*\]", b"", re.sub(rb"/CreationDate \(D:[^)]*\)", b"", pdf))


def header() -> str:
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=False).stdout.strip() or "?"
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return (f"date={date.today().isoformat()} commit={commit} machine={platform.node()} cpu={cpu!r} "
            f"cpus={os.cpu_count()} python={platform.python_version()} load={os.getloadavg()[0]:.2f}")


def one_round(contents: list[LetterContent], font: Path, baseline: int) -> dict[str, Any]:
    """Draw the first `baseline` letters with fpdf2 parsing the font for each, then all of them as this checkout
    does (as in a new process: no subsets kept); the figures, and a digest of each PDF (creation date aside)."""
    with tempfile.TemporaryDirectory(prefix="bench-letters-") as folder:
        cpu = time.process_time()
        parsed, parsed_pdfs = timed(contents[:baseline], font, Path(folder), reuse=False)
        parsed_cpu = time.process_time() - cpu
        forget_subsets(font)  # each round a process's first run of letters, not the round before's subsets
        cpu = time.process_time()
        reused, reused_pdfs = timed(contents, font, Path(folder), reuse=True)
        reused_cpu = time.process_time() - cpu
    return {
        "parsed_ms": 1000 * statistics.mean(parsed), "parsed_cpu": 1000 * parsed_cpu / len(parsed),
        "ms": 1000 * statistics.mean(reused[1:]), "cpu": 1000 * reused_cpu / len(reused), "first": 1000 * reused[0],
        "same": sum(comparable(a) == comparable(b) for a, b in zip(parsed_pdfs, reused_pdfs, strict=False)),
        "compared": len(parsed_pdfs), "pages": [len(pypdf.PdfReader(BytesIO(pdf)).pages) for pdf in reused_pdfs],
        "digests": [hashlib.sha256(comparable(pdf)).hexdigest() for pdf in reused_pdfs],
        "load": os.getloadavg()[0],
    }


def in_worker(python: str, args: argparse.Namespace) -> dict[str, Any]:
    """One round in a new process of `python` (main's code when it is main's interpreter)."""
    done = subprocess.run([python, str(Path(__file__).resolve()), "--worker", "--letters", str(args.letters),
                           "--baseline", str(args.baseline)], capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--letters", type=int, default=200)
    parser.add_argument("--baseline", type=int, default=50, help="how many of them fpdf2's own way draws")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--main-python", help="an interpreter with main's mahnwerk installed: each round runs in a "
                                              "new process of it and of this interpreter, taking turns")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    font = find_font()
    if font is None:
        sys.exit("DejaVu Sans is not installed (Debian/Ubuntu: apt-get install fonts-dejavu-core)")
    if args.worker:
        print(json.dumps(one_round(letters(args.letters), font, args.baseline)))
        return
    print(header(), flush=True)
    contents = letters(args.letters) if not args.main_python else []
    names = (["main"] if args.main_python else []) + ["this"]
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for round_ in range(1, args.repeat + 1):
        for name in names:
            if args.main_python:
                figures = in_worker(args.main_python if name == "main" else sys.executable, args)
            else:
                figures = one_round(contents, font, args.baseline)
            rounds[name].append(figures)
            print(f"round {round_} {name}: {figures['ms']:.1f} ms/letter ({figures['cpu']:.1f} ms CPU) over "
                  f"{len(figures['digests']) - 1}, first letter {figures['first']:.0f} ms; fpdf2's own way "
                  f"{figures['parsed_ms']:.1f} ms/letter ({figures['parsed_cpu']:.1f} ms CPU), identical PDFs "
                  f"{figures['same']}/{figures['compared']}; load {figures['load']:.2f}", flush=True)
        if round_ == 1:
            pages = rounds["this"][0]["pages"]
            print(f"{len(pages)} letters, {sum(p > 1 for p in pages)} of them with more than one page; font {font}")
        if args.main_python:
            same = sum(a == b for a, b in zip(rounds["main"][-1]["digests"], rounds["this"][-1]["digests"],
                                              strict=True))
            print(f"round {round_}: PDFs identical to main's {same}/{len(rounds['this'][-1]['digests'])}", flush=True)
    for name in names:
        ms = statistics.median(r["ms"] for r in rounds[name])
        cpu = statistics.median(r["cpu"] for r in rounds[name])
        parsed = statistics.median(r["parsed_ms"] for r in rounds[name])
        print(f"median of {args.repeat}, {name}: {ms:.1f} ms/letter ({cpu:.1f} ms CPU); fpdf2's own way "
              f"{parsed:.1f} ms/letter; first letter of the process {rounds[name][0]['first']:.0f} ms")


if __name__ == "__main__":
    main()
