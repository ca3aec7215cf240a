"""The Twig subset Shopware's StringTemplateRenderer gives the mail service: `{{ expression }}` with dotted lookups,
integer arithmetic, `~`, and the filters raw, e/escape, upper, lower; `{% verbatim %}`; comments. Any other tag
(include, if, for, ...) is a render failure, as a missing template or a sandbox violation is in the real shop.

It renders for real: text that reaches it as template code is executed (`{{ 7*7 }}` prints 49), so a test can
prove that customer text only ever travels as data.
"""

from __future__ import annotations

import re

_BLOCK = re.compile(r"\{\{-?(.*?)-?\}\}|\{%-?\s*(\w+)(.*?)-?%\}|\{#.*?#\}", re.S)
_TOKEN = re.compile(r"\s*(?:(\d+\.\d+|\d+)|('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")|([A-Za-z_]\w*)"
                    r"|(//|[-+*/%~.|()\[\],]))")


class TwigError(Exception):
    """A template that Twig refuses to compile or render."""


def render(template: str, data: dict, *, autoescape: bool) -> str:
    """`template` rendered with `data`; `autoescape` is the HTML strategy Shopware uses for text/html content."""
    out, pos = [], 0
    for match in _BLOCK.finditer(template):
        if match.start() < pos:
            continue
        out.append(template[pos:match.start()])
        pos = match.end()
        expression, tag = match.group(1), match.group(2)
        if expression is not None:
            value, safe = _Parser(expression, data).parse()
            text = _string(value)
            out.append(text if safe or not autoescape else escape(text))
        elif tag == "verbatim":
            end = template.find("endverbatim", pos)
            close = re.compile(r"\{%-?\s*endverbatim\s*-?%\}").search(template, pos) if end >= 0 else None
            if close is None:
                raise TwigError('Unexpected end of file: Unclosed "verbatim".')
            out.append(template[pos:close.start()])
            pos = close.end()
        elif tag is not None:
            raise TwigError(f'Unknown "{tag}" tag.' if tag not in ("include", "if", "for", "set", "block",
                                                                    "extends", "embed", "import", "macro")
                            else f'Tag "{tag}" is not allowed in this template (sandbox renderer).')
    out.append(template[pos:])
    return "".join(out)


def escape(text: str) -> str:
    """htmlspecialchars(ENT_QUOTES | ENT_SUBSTITUTE), Twig's `e('html')`."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#039;"))


def _string(value: object) -> str:
    """PHP's string conversion of a printed value."""
    if value is None or value is False:
        return ""
    if value is True:
        return "1"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, list | dict):
        return "Array"
    return str(value)


def _number(value: object) -> int | float:
    if isinstance(value, bool) or value is None:
        return int(bool(value))
    if isinstance(value, int | float):
        return value
    try:
        text = str(value).strip()
        return int(text) if re.fullmatch(r"[+-]?\d+", text) else float(text)
    except ValueError:
        raise TwigError(f'Unsupported operand: a non-numeric value "{value}".') from None


class _Parser:
    """Recursive descent over one `{{ }}` expression; evaluates while parsing. parse() -> (value, is_safe)."""

    def __init__(self, text: str, data: dict) -> None:
        self.tokens: list[tuple[str, str]] = []
        self.data, self.pos = data, 0
        index, text = 0, text.strip()
        while index < len(text):
            match = _TOKEN.match(text, index)
            if match is None or match.end() == index:
                raise TwigError(f'Unexpected character "{text[index:].strip()[:1]}".')
            kind = ("number", "string", "name", "op")[match.lastindex - 1]  # type: ignore[operator]
            self.tokens.append((kind, match.group(match.lastindex)))  # type: ignore[arg-type]
            index = match.end()
            while index < len(text) and text[index].isspace():
                index += 1

    def parse(self) -> tuple[object, bool]:
        if not self.tokens:
            raise TwigError("A block must consist of at least one expression.")
        value, safe = self.concat()
        if self.pos < len(self.tokens):
            raise TwigError(f'Unexpected token "{self.tokens[self.pos][1]}".')
        return value, safe

    def peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise TwigError("Unexpected end of template.")
        token = self.tokens[self.pos]
        if expected is not None and token[1] != expected:
            raise TwigError(f'Unexpected token "{token[1]}" ("{expected}" expected).')
        self.pos += 1
        return token

    def concat(self) -> tuple[object, bool]:
        value, safe = self.additive()
        while self.peek() == "~":
            self.take()
            right, _ = self.additive()
            value, safe = _string(value) + _string(right), False
        return value, safe

    def additive(self) -> tuple[object, bool]:
        value, safe = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()[1]
            right, _ = self.term()
            a, b = _number(value), _number(right)
            value, safe = (a + b if op == "+" else a - b), False
        return value, safe

    def term(self) -> tuple[object, bool]:
        value, safe = self.unary()
        while self.peek() in ("*", "/", "//", "%"):
            op = self.take()[1]
            right, _ = self.unary()
            a, b = _number(value), _number(right)
            if op != "*" and b == 0:
                raise TwigError("Division by zero.")
            value = a * b if op == "*" else a / b if op == "/" else a // b if op == "//" else a % b
            safe = False
        return value, safe

    def unary(self) -> tuple[object, bool]:
        if self.peek() == "-":
            self.take()
            value, _ = self.unary()
            return -_number(value), False
        return self.postfix()

    def postfix(self) -> tuple[object, bool]:
        value, safe = self.primary()
        while self.peek() in (".", "[", "|"):
            op = self.take()[1]
            if op == ".":
                value, safe = _attribute(value, self.take()[1]), False
            elif op == "[":
                key, _ = self.concat()
                self.take("]")
                value, safe = _attribute(value, key), False
            else:
                value, safe = self.filter(value, self.take()[1])
        return value, safe

    def filter(self, value: object, name: str) -> tuple[object, bool]:
        if self.peek() == "(":               # arguments (e('html')) are read and ignored
            self.take()
            while self.peek() != ")":
                self.concat()
                if self.peek() == ",":
                    self.take()
            self.take(")")
        if name == "raw":
            return value, True
        if name in ("e", "escape"):
            return escape(_string(value)), True
        if name in ("upper", "lower"):
            text = _string(value)
            return (text.upper() if name == "upper" else text.lower()), False
        raise TwigError(f'Unknown "{name}" filter.')

    def primary(self) -> tuple[object, bool]:
        kind, text = self.take()
        if kind == "number":
            return (float(text) if "." in text else int(text)), False
        if kind == "string":
            return re.sub(r"\\(.)", r"\1", text[1:-1]), False
        if kind == "name":
            constants = {"true": True, "false": False, "null": None, "none": None}
            return (constants[text.lower()] if text.lower() in constants else self.data.get(text)), False
        if text == "(":
            value = self.concat()
            self.take(")")
            return value
        raise TwigError(f'Unexpected token "{text}".')


def _attribute(value: object, key: object) -> object:
    if isinstance(value, dict):
        return value.get(str(key) if not isinstance(key, int) else key, value.get(str(key)))
    if isinstance(value, list) and isinstance(key, int | float) and 0 <= int(key) < len(value):
        return value[int(key)]
    return None
