"""Letter benchmark: milliseconds per postal dunning letter (PDF drawn and written), fonts reused vs. parsed per letter.

    python bench/letters.py --letters 200

The letters are the engine's notices of the `de-b2c` preset (reminder, 1st and 2nd dunning notice, each on the day
the engine sends it) for claims of the sandbox shop's customers (umlauts, Polish, Icelandic, Cyrillic and Japanese
names), three in four in German, with the merchant's legal lines in the footer, the GiroCode, DejaVu Sans: what
`mahnwerk run` writes into the print folder. Each letter is drawn (`connectors/letterpdf.render`) and written
(`write_private`: atomic, fsync'd) into a temporary folder, in this process, one after the other:

- baseline: `reuse_fonts=False`, fpdf2 parsing the font file for every letter, as before issue 17;
- mahnwerk: the fonts parsed once per process (connectors/letterfonts.py); the first letter, which reads the font
  files, is reported on its own and not in the figure.

Every round does both on the same letters (the baseline on the first `--baseline` of them) and compares the two
PDFs of each letter byte for byte (creation date and document id aside). `--repeat` rounds; the median is the figure.
"""

from __future__ import annotations

import argparse
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
            face(path).subsets.clear()


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--letters", type=int, default=200)
    parser.add_argument("--baseline", type=int, default=50, help="how many of them the baseline draws")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    font = find_font()
    if font is None:
        sys.exit("DejaVu Sans is not installed (Debian/Ubuntu: apt-get install fonts-dejavu-core)")
    print(header(), flush=True)
    contents = letters(args.letters)
    base_ms, reuse_ms, first_ms, base_cpu, reuse_cpu = [], [], [], [], []
    for round_ in range(1, args.repeat + 1):
        with tempfile.TemporaryDirectory(prefix="bench-letters-") as folder:
            cpu = time.process_time()
            parsed, parsed_pdfs = timed(contents[:args.baseline], font, Path(folder), reuse=False)
            parsed_cpu = time.process_time() - cpu
            forget_subsets(font)  # each round a process's first run of letters, not the round before's subsets
            cpu = time.process_time()
            reused, reused_pdfs = timed(contents, font, Path(folder), reuse=True)
            reused_cpu = time.process_time() - cpu
        if round_ == 1:
            longer = sum(len(pypdf.PdfReader(BytesIO(pdf)).pages) > 1 for pdf in reused_pdfs)
            print(f"{len(contents)} letters, {longer} of them with more than one page; font {font}", flush=True)
        same = sum(comparable(a) == comparable(b) for a, b in zip(parsed_pdfs, reused_pdfs, strict=False))
        base_ms.append(1000 * statistics.mean(parsed))
        later = reused[1:] if round_ == 1 else reused
        reuse_ms.append(1000 * statistics.mean(later))
        base_cpu.append(1000 * parsed_cpu / len(parsed))
        reuse_cpu.append(1000 * reused_cpu / len(reused))
        if round_ == 1:
            first_ms.append(1000 * reused[0])
        print(f"round {round_}: baseline {base_ms[-1]:.1f} ms/letter ({1000 * parsed_cpu / len(parsed):.1f} ms CPU) "
              f"over {len(parsed)}; mahnwerk {reuse_ms[-1]:.1f} ms/letter "
              f"({1000 * reused_cpu / len(reused):.1f} ms CPU, first letter {1000 * reused[0]:.0f} ms) over "
              f"{len(later)}; identical PDFs {same}/{len(parsed)}; load {os.getloadavg()[0]:.2f}", flush=True)
    base, reuse = statistics.median(base_ms), statistics.median(reuse_ms)
    print(f"median of {args.repeat}: baseline {base:.1f} ms/letter ({statistics.median(base_cpu):.1f} ms CPU), "
          f"mahnwerk {reuse:.1f} ms/letter ({statistics.median(reuse_cpu):.1f} ms CPU), {base / reuse:.1f} x; "
          f"first letter of the process {first_ms[0]:.0f} ms")


if __name__ == "__main__":
    main()
