"""Demo benchmark: wall and CPU seconds of `mahnwerk demo`, main's code and this checkout's, taking turns.

    python bench/demo.py --main-python /path/to/main/venv/bin/python --repeat 3 [--orders 120]

Each round runs `python -m mahnwerk demo` once with each interpreter (main's first, then this one: the load of a
shared machine falls on both alike), output to a file, and reports the wall time, the CPU time the demo used (user
and system, of the process and its children: `resource.getrusage(RUSAGE_CHILDREN)`) and the load average. The two
outputs are compared with what differs from run to run masked (ports, temporary folders, times of day, seconds): the
speed-up must not change what the demo prints. Without `--main-python` only this checkout is measured.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from letters import header  # noqa: E402  (bench/ is not a package)

# What differs between two runs of the same demo: the sandbox's port, the temporary folder, clock times in file
# names and in the ledger, the seconds a sync took.
MASKS = (
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:PORT"),
    (re.compile(r"mahnwerk-demo-[\w-]+"), "mahnwerk-demo-DIR"),
    (re.compile(r"\d{8}T\d{6}(-\d+)?"), "STAMP"),
    (re.compile(r"\b\d+\.\d\d(?= │\s*$)", re.MULTILINE), "SECONDS"),
    (re.compile(r"\d\d:\d\d(:\d\d)?"), "HH:MM"),
)


def masked(text: str) -> str:
    for pattern, replacement in MASKS:
        text = pattern.sub(replacement, text)
    return text


def run(python: str, orders: int) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds, output) of one demo."""
    with tempfile.TemporaryFile("w+", encoding="utf-8") as out:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run([python, "-m", "mahnwerk", "demo", "--orders", str(orders)], stdout=out,
                       stderr=subprocess.STDOUT, check=True, cwd=tempfile.gettempdir(),
                       env={**os.environ, "COLUMNS": "160"})
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        out.seek(0)
        return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), out.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--main-python", help="an interpreter with main's mahnwerk installed: the baseline")
    parser.add_argument("--orders", type=int, default=120)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(header(), flush=True)
    pythons = ([("main", args.main_python)] if args.main_python else []) + [("this", sys.executable)]
    figures: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in pythons}
    for round_ in range(1, args.repeat + 1):
        outputs = {}
        for name, python in pythons:
            load = os.getloadavg()[0]
            wall, cpu, outputs[name] = run(python, args.orders)
            figures[name].append((wall, cpu))
            print(f"round {round_} {name}: {wall:.2f} s wall, {cpu:.2f} s CPU, load {load:.2f}", flush=True)
        if len(outputs) == 2:
            main_lines, these = masked(outputs["main"]).splitlines(), masked(outputs["this"]).splitlines()
            differing = sum(a != b for a, b in zip(main_lines, these, strict=False))
            differing += abs(len(main_lines) - len(these))
            print(f"round {round_}: outputs {'the same' if not differing else f'differ in {differing} lines'} "
                  f"({len(these)} lines, masked)", flush=True)
            for a, b in [(a, b) for a, b in zip(main_lines, these, strict=False) if a != b][:3]:
                print(f"  main: {a.strip()}\n  this: {b.strip()}")
    for name, _ in pythons:
        walls, cpus = [w for w, _ in figures[name]], [c for _, c in figures[name]]
        print(f"median of {args.repeat}, {name}: {statistics.median(walls):.2f} s wall "
              f"({', '.join(f'{w:.2f}' for w in walls)}), {statistics.median(cpus):.2f} s CPU")


if __name__ == "__main__":
    main()
