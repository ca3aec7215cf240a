"""Where each key of a TOML document is, so that every configuration problem can name its line.

tomllib returns plain dicts without positions, so the locator scans the source text itself. It runs only on
text that tomllib has already accepted, so it can skip values instead of validating them. `parse_toml` reads a
file and hands out a `Problems` that places each problem at its key's line.

Paths are tuples: ("sync", "interval"); array items and array-of-tables entries get an int index,
("policy", "stages", 0, "days"). A table's path maps to the line of its header (or of the first key that
creates it implicitly, as `sync.interval = "5m"` creates "sync").
"""

from __future__ import annotations

import contextlib
import json
import re
import tomllib
from bisect import bisect_right
from functools import cached_property
from pathlib import Path
from typing import Any

from mahnwerk.errors import ConfigProblem

KeyPath = tuple[str | int, ...]

_BARE_KEY = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_SCALAR_END = set(",]}#\n")


def key_lines(text: str) -> dict[KeyPath, int]:
    """Map every key, table and array item in `text` to the line it starts on."""
    scanner = _Scanner(text)
    # The text should be valid TOML; if the scanner still stumbles, what it found so far is kept.
    with contextlib.suppress(IndexError, ValueError):
        scanner.document()
    return scanner.lines


def locate(lines: dict[KeyPath, int], path: KeyPath) -> int | None:
    """The line of `path`, else of its nearest enclosing table that is in the text; None if there is none."""
    for end in range(len(path), 0, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def format_key(path: KeyPath) -> str:
    """`("policy", "stages", 1, "days")` -> "policy.stages[1].days"."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


class Problems:
    """Collects the problems of one configuration file, each placed at the line its key is on."""

    def __init__(self, file: str, text: str) -> None:
        self.file, self.text = file, text
        self.found: list[ConfigProblem] = []
        self.warnings: list[ConfigProblem] = []  # allowed, but worth a second look (printed by `check`)

    @cached_property
    def lines(self) -> dict[KeyPath, int]:
        return key_lines(self.text)  # only once there is a problem: a valid file is never scanned

    def add(self, path: KeyPath, message: str) -> None:
        self.found.append(self.problem(path, message))

    def problem(self, path: KeyPath, message: str) -> ConfigProblem:
        """A problem at `path`'s line, not added (a secret that cannot be read now is kept with the secret)."""
        key = path
        while key and isinstance(key[-1], int):
            key = key[:-1]  # a list item is reported under the list's key, at the item's own line
        return ConfigProblem(self.file, locate(self.lines, path), format_key(key), message)

    def warn(self, path: KeyPath, message: str) -> None:
        self.warnings.append(ConfigProblem(self.file, locate(self.lines, path), format_key(path), message))

    def in_order(self) -> list[ConfigProblem]:
        """The problems from the top of the file down."""
        return sorted(self.found, key=lambda problem: problem.line or 0)


def parse_toml(folder: Path, name: str, out: list[ConfigProblem]) -> tuple[dict[str, Any], Problems] | None:
    """The document `folder/name` and a Problems for it; None, with the reason appended to `out`, if unusable."""
    try:
        text = (folder / name).read_text(encoding="utf-8")
        return tomllib.loads(text), Problems(name, text)
    except OSError as exc:
        out.append(ConfigProblem(name, None, "", f"cannot read: {exc.strerror or exc}"))
    except UnicodeDecodeError:
        out.append(ConfigProblem(name, None, "", "not UTF-8 text"))
    except tomllib.TOMLDecodeError as exc:  # "Invalid value (at line 3, column 9)": the line goes where it belongs
        where = re.search(r" \(at line (\d+), column (\d+)\)$", str(exc))
        message = f"{str(exc)[: where.start()]} (column {where[2]})" if where else str(exc)
        out.append(ConfigProblem(name, int(where[1]) if where else None, "", f"invalid TOML: {message}"))
    return None


class _Scanner:
    """A forgiving TOML walker that records where keys are, not what they hold."""

    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0
        self.lines: dict[KeyPath, int] = {}
        self.starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
        self.aot: dict[KeyPath, int] = {}  # array-of-tables path -> entries seen so far

    def line(self) -> int:
        return bisect_right(self.starts, self.pos)

    def record(self, path: KeyPath, line: int) -> None:
        for end in range(1, len(path)):
            self.lines.setdefault(path[:end], line)  # implicit parents, unless a header came first
        self.lines[path] = line

    def document(self) -> None:
        table: KeyPath = ()
        while self.skip(newlines=True) < len(self.text):
            line = self.line()
            if self.text[self.pos] == "[":
                table = self.header(line)
            else:
                path = table + self.key("=")
                self.record(path, line)
                self.pos += 1
                self.value(path)

    def header(self, line: int) -> KeyPath:
        array = self.text.startswith("[[", self.pos)
        self.pos += 2 if array else 1
        keys = self.key("]")
        self.pos += 2 if array else 1
        path: KeyPath = ()
        for i, key in enumerate(keys):
            path += (key,)
            if array and i == len(keys) - 1:
                self.aot[path] = self.aot.get(path, 0) + 1
                path += (self.aot[path] - 1,)
            elif path in self.aot:
                path += (self.aot[path] - 1,)  # [a.b] below [[a]] belongs to a's last entry
        self.record(path, line)
        return path

    def key(self, stop: str) -> tuple[str, ...]:
        """A dotted key, bare or quoted, ending before `stop`."""
        parts: list[str] = []
        while True:
            self.skip()
            parts.append(self.key_part())
            self.skip()
            if self.text[self.pos] != ".":
                if self.text[self.pos] != stop[0]:
                    raise ValueError(f"expected {stop!r} at {self.pos}")
                return tuple(parts)
            self.pos += 1

    def key_part(self) -> str:
        start, quote = self.pos, self.text[self.pos]
        if quote in "\"'":
            self.string()
            raw = self.text[start + 1 : self.pos - 1]
            if quote == "'":
                return raw
            try:
                return json.loads(f'"{raw}"')
            except ValueError:
                return raw  # \U escapes are TOML-only; close enough for locating
        while self.text[self.pos] in _BARE_KEY:
            self.pos += 1
        if self.pos == start:
            raise ValueError(f"no key at {start}")
        return self.text[start : self.pos]

    def value(self, path: KeyPath) -> None:
        self.skip()
        char = self.text[self.pos]
        if char in "\"'":
            self.string()
        elif char == "[":
            self.items(path)
        elif char == "{":
            self.inline_table(path)
        else:
            while self.pos < len(self.text) and self.text[self.pos] not in _SCALAR_END:
                self.pos += 1

    def items(self, path: KeyPath) -> None:
        self.pos += 1
        index = 0
        while self.skip(newlines=True) < len(self.text) and self.text[self.pos] != "]":
            self.record(path + (index,), self.line())
            self.value(path + (index,))
            if self.skip(newlines=True) < len(self.text) and self.text[self.pos] == ",":
                self.pos += 1
            index += 1
        self.pos += 1

    def inline_table(self, path: KeyPath) -> None:
        self.pos += 1
        while self.skip(newlines=True) < len(self.text) and self.text[self.pos] != "}":
            if self.text[self.pos] == ",":
                self.pos += 1
                continue
            line = self.line()
            key = path + self.key("=")
            self.record(key, line)
            self.pos += 1
            self.value(key)
        self.pos += 1

    def string(self) -> None:
        quote = self.text[self.pos]
        triple = quote * 3
        if self.text.startswith(triple, self.pos):
            end = self.find_close(triple, self.pos + 3)
            self.pos = end + 3
            while self.text.startswith(quote, self.pos) and self.pos < end + 5:
                self.pos += 1  # up to two quotes may end the content right before the closing triple
        else:
            self.pos = self.find_close(quote, self.pos + 1) + 1

    def find_close(self, delimiter: str, pos: int) -> int:
        escapes = delimiter[0] == '"'
        while not self.text.startswith(delimiter, pos):
            pos += 2 if escapes and self.text[pos] == "\\" else 1
            if pos >= len(self.text):
                raise ValueError("unterminated string")
        return pos

    def skip(self, *, newlines: bool = False) -> int:
        """Skip blanks and comments (and newlines if asked); return the new position."""
        blanks = " \t\r\n" if newlines else " \t"
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "#":
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end == -1 else end
            elif char in blanks:
                self.pos += 1
            else:
                break
        return self.pos

