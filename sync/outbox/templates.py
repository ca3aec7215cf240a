"""Customer messages: a Notice put in the customer's locale and rendered from the templates in policy/templates.

Templates render in a Jinja2 sandbox from plain data (the contract is policy/templates/README.md). Customer data is
only ever a value in that data, never template source, so a customer called "{{7*7}}" is greeted as written. The
HTML part of a mail is the text message poured into an autoescaping layout (a shop kind that needs the text in
another form, escaped for a customer note say, makes it in its connector).
"""

from __future__ import annotations

import difflib
import re
import threading
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from functools import partial
from pathlib import Path
from types import CodeType
from typing import Any

import jinja2
import jinja2.bccache
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from mahnwerk.errors import ConfigError, ConfigProblem
from mahnwerk.policy.interest import InterestRule
from mahnwerk.policy.notice import Addressee, Agency, InstalmentLine, Merchant, Notice, OfferTerms, PaymentLine
from mahnwerk.policy.rates import DE_BASE_RATE
from mahnwerk.sync.config.policy import SHIPPED_TEMPLATES
from mahnwerk.sync.outbox.formats import day, group_iban, interest_words, money, percent_text

SHIPPED = SHIPPED_TEMPLATES
LAYOUT = "mail.html.j2"
KEY = "template"


def context(notice: Notice, *, letter: bool = False) -> dict[str, Any]:
    """The template variables of policy/templates/README.md for one notice, formatted for its language."""
    lang = notice.language

    def cash(amount: Decimal | None) -> str | None:
        return None if amount is None else money(amount, notice.currency, lang)

    def when(d: date | None) -> str | None:
        return None if d is None else day(d, lang)

    missed = notice.missed
    return {
        "shop": _shop(notice.merchant),
        "customer": {"name": notice.customer.name, "company": notice.customer.company},
        "claim": {"order_number": notice.order_number, "invoice_number": notice.invoice_number,
                  "invoice_date": when(notice.invoice_date), "due_date": when(notice.due_date),
                  "currency": notice.currency},
        "amounts": {"principal": cash(notice.principal), "fees": cash(notice.fees), "interest": cash(notice.interest),
                    "flat_fee": cash(notice.flat_fee), "paid": cash(notice.paid), "deferred": cash(notice.deferred),
                    "total": cash(notice.total)},
        "interest_rule": (interest_words(notice.interest_rule, lang) or None) if notice.interest_rule else None,
        "default_since": when(notice.default_since),
        "deadline": when(notice.deadline),
        "payments": [{"date": when(p.on), "amount": cash(p.amount)} for p in notice.payments],
        "offer": None if notice.offer is None else _offer(notice.offer, lang, cash(notice.offer.discounted_total)),
        "agency": None if notice.agency is None else {"name": notice.agency.name, "address": notice.agency.address},
        "instalments": [{"number": i.number, "date": when(i.due), "amount": cash(i.amount)}
                        for i in notice.instalments],
        "missed": None if missed is None else {"number": missed[0].number, "date": when(missed[0].due),
                                               "amount": cash(missed[0].amount), "days_late": missed[1]},
        "reference": notice.reference,
        "plan_accelerates": notice.plan_accelerates,
        "letter": letter,
    }


def _shop(m: Merchant) -> dict[str, str]:
    # Without a separate account holder the shop's legal name is the holder: an empty line would look broken.
    return {"name": m.name, "email": m.email, "phone": m.phone, "website": m.website,
            "account_holder": m.account_holder or m.name, "iban": group_iban(m.iban), "bic": m.bic,
            "bank_name": m.bank_name}


def _offer(offer: OfferTerms, language: str, discounted_total: str | None) -> dict[str, Any]:
    if offer.kind == "discount":
        return {"kind": "discount", "discount_percent": percent_text(offer.discount_percent, language),
                "discounted_total": discounted_total, "until": day(offer.until, language)}
    return {"kind": "deferral", "until": day(offer.until, language)}


class CompiledTemplates(jinja2.BytecodeCache):
    """Compiled templates of this process by file name and source: Jinja checks the source's checksum on every
    load, so an edited template is compiled afresh."""

    def __init__(self) -> None:
        self.codes: dict[str, tuple[str, CodeType]] = {}
        self.lock = threading.Lock()

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with self.lock:
            checksum, code = self.codes.get(bucket.key, ("", None))
        if code is not None and checksum == bucket.checksum:
            bucket.code = code

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if bucket.code is not None:
            with self.lock:
                self.codes[bucket.key] = (bucket.checksum, bucket.code)


COMPILED = CompiledTemplates()


@dataclass(frozen=True, slots=True)
class Rendered:
    """One rendered message: subject, plain text body, HTML part, and the template file used."""

    subject: str
    text: str
    html: str
    template_file: str


class Templates:
    """The merchant's templates (`<config-dir>/templates`) over the shipped ones, rendered in a sandbox."""

    def __init__(self, override_dir: Path | None) -> None:
        self.override_dir = override_dir
        self.folders = [d for d in (override_dir,) if d is not None and d.is_dir()] + [SHIPPED]
        self.env = SandboxedEnvironment(
            loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(folder) for folder in self.folders]),
            undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
            # "html.j2" too: select_autoescape matches name endings, and "mail.html.j2" does not end in ".html".
            autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=False,
                                                default=False),
            # A file the merchant adds or edits counts from the next message on: no cache of loaded templates, but
            # the compiled code of each file's current source is kept (compiling is most of a message's time).
            cache_size=0, bytecode_cache=COMPILED)

    def exists(self, name: str, language: str) -> bool:
        """Whether `<lang>/<name>.txt.j2` exists in the override folder or among the shipped templates."""
        try:
            self.source_of(name, language)
        except ConfigError:
            return False
        return True

    def source_of(self, name: str, language: str) -> str:
        """The file `<lang>/<name>.txt.j2` is read from: the merchant's if present, else the shipped one."""
        assert self.env.loader is not None  # set in __init__
        try:
            _, filename, _ = self.env.loader.get_source(self.env, f"{language}/{name}.txt.j2")
        except jinja2.TemplateNotFound as exc:
            raise ConfigError([self._not_found(exc)]) from None
        return filename or ""

    def render(self, notice: Notice, *, letter: bool = False) -> Rendered:
        """The notice's message; ConfigError names file, line and cause when a template cannot be rendered."""
        values = context(notice, letter=letter)
        template = self._template(f"{notice.language}/{notice.template}.txt.j2")
        subject, text = _split(self._run(template, values), template.filename or "")
        return Rendered(subject, text, self.html(subject, text, notice), template.filename or "")

    def html(self, subject: str, text: str, notice: Notice) -> str:
        """The HTML part of a mail: the text body in the autoescaping layout mail.html.j2."""
        shop = _shop(notice.merchant) | {"address_line": notice.merchant.address_line}
        values = {"subject": subject, "paragraphs": paragraphs(text), "shop": shop, "language": notice.language}
        return self._run(self._template(LAYOUT), values)

    def _template(self, name: str) -> jinja2.Template:
        try:
            return self.env.get_template(name)
        except jinja2.TemplateNotFound as exc:
            raise ConfigError([self._not_found(exc)]) from None
        except jinja2.TemplateSyntaxError as exc:
            raise ConfigError([self._problem(exc, name, {})]) from None

    def _run(self, template: jinja2.Template, values: dict[str, Any]) -> str:
        try:
            return template.render(values)
        except Exception as exc:
            if not isinstance(exc, jinja2.TemplateError) and self._frame(exc) is None:
                raise  # not the template's fault: a bug of ours keeps its traceback
            raise ConfigError([self._problem(exc, template.filename or "", values)]) from exc

    def _frame(self, exc: BaseException) -> tuple[str, int | None] | None:
        """File and line of the innermost template frame: Jinja rewrites tracebacks to point into templates."""
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            if any(Path(frame.filename).is_relative_to(folder) for folder in self.folders):
                return frame.filename, frame.lineno
        return None

    def _problem(self, exc: Exception, file: str, values: dict[str, Any]) -> ConfigProblem:
        if isinstance(exc, jinja2.TemplateSyntaxError):
            return ConfigProblem(exc.filename or file, exc.lineno, KEY, f"syntax error: {exc.message}")
        if isinstance(exc, jinja2.TemplateNotFound):  # an {% include %} of a file nobody has
            return self._not_found(exc)
        file, line = self._frame(exc) or (file, None)
        return ConfigProblem(file, line, KEY, _explain(exc, values))

    def _not_found(self, exc: jinja2.TemplateNotFound) -> ConfigProblem:
        name = exc.name if isinstance(exc.name, str) else str(exc)
        folder, _, file = name.rpartition("/")
        where = self.override_dir / folder if self.override_dir is not None else None
        place = f"in {where} or the shipped templates" if where else "among the shipped templates"
        return ConfigProblem(str((where or SHIPPED / folder) / file), None, KEY, f"no template {file} {place}")


def _split(text: str, file: str) -> tuple[str, str]:
    """Subject and body: the first line is "Subject: …", the body follows the blank line after it."""
    first, _, rest = text.partition("\n")
    subject = first.removeprefix("Subject:").strip()
    if not first.startswith("Subject:") or not subject:
        raise ConfigError([ConfigProblem(file, 1, KEY, "the first line must be 'Subject: …', then a blank line "
                                                       f"(got {first[:40]!r})")])
    return subject, rest.lstrip("\n")


def paragraphs(text: str) -> list[list[str]]:
    """The text split at blank lines, each paragraph a list of its lines."""
    return [block.split("\n") for block in re.split(r"\n\s*\n", text.strip("\n")) if block.strip()]


def _keys(value: Any) -> set[str]:
    """Every dict key at any depth: the attribute names a template may use."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def _hint(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _explain(exc: Exception, values: dict[str, Any]) -> str:
    """A message for the merchant: which name is unknown and what was probably meant."""
    message = getattr(exc, "message", None) or str(exc)
    if isinstance(exc, jinja2.UndefinedError):
        if match := re.fullmatch(r"'(\w+)' is undefined", message):
            return f"undefined variable '{match[1]}'{_hint(match[1], values)}"
        if match := re.search(r"has no attribute '(\w+)'", message):
            if match[1] in _keys(values):  # a known name on an optional value that is None here
                return f"{message}: the value is optional, guard it with {{% if … %}}"
            return f"undefined attribute '{match[1]}'{_hint(match[1], _keys(values))}"
        return message
    if isinstance(exc, SecurityError):
        return f"not allowed in the template sandbox: {message}"
    return f"{type(exc).__name__}: {message}"


def sample_notice(language: str) -> Notice:
    """A complete sample claim with every optional part set, and a customer whose name looks like markup."""
    on = date.fromisoformat
    merchant = Merchant(name="Gartenglück GmbH", email="buchhaltung@gartenglueck.example", street="Hauptstr. 1",
                        postcode="10115", city="Berlin", country="DE", phone="+49 30 1234567",
                        website="https://gartenglueck.example", account_holder="Gartenglück GmbH",
                        iban="DE89370400440532013000", bic="COBADEFFXXX", bank_name="Commerzbank")
    customer = Addressee(name="{{7*7}} <script>alert(1)</script>", company="Mustermann Landschaftsbau",
                         address_1="Beispielweg 5", postcode="80331", city="München", country="DE",
                         email="erika@example.org")
    instalments = (InstalmentLine(1, on("2026-04-01"), Decimal("380.00")),
                   InstalmentLine(2, on("2026-05-01"), Decimal("380.00")),
                   InstalmentLine(3, on("2026-06-01"), Decimal("379.34")))
    return Notice(
        template="dunning_2", stage="dunning_2", language=language, issued_on=on("2026-03-13"), merchant=merchant,
        customer=customer, order_number="100234", invoice_number="RE-2026-0815", invoice_date=on("2026-02-02"),
        due_date=on("2026-02-16"), currency="EUR", principal=Decimal("1234.50"), total=Decimal("760.00"),
        fees=Decimal("2.50"), interest=Decimal("12.34"), flat_fee=Decimal("40.00"), paid=Decimal("150.00"),
        interest_rule=InterestRule("base_plus", points=Decimal(5), table=DE_BASE_RATE),
        default_since=on("2026-02-17"), deadline=on("2026-03-27"),
        payments=(PaymentLine(on("2026-03-03"), Decimal("100.00")), PaymentLine(on("2026-03-10"), Decimal("50.00"))),
        offer=OfferTerms("discount", on("2026-03-20"), Decimal(10), Decimal("684.00")),
        agency=Agency("Beispiel Inkasso GmbH", "Musterweg 1, 10115 Berlin"), instalments=instalments,
        missed=(instalments[1], 15), reference="RE-2026-0815", deferred=Decimal("379.34"),
    )


def check_templates(override_dir: Path | None, names: Iterable[str],
                    languages: Iterable[str] = ("de", "en")) -> list[ConfigProblem]:
    """Render every named template in every language from the sample, as mail and as letter, and the HTML layout;
    every problem once, with its file and line."""
    templates = Templates(override_dir)
    found: dict[ConfigProblem, None] = {}  # an ordered set: a problem shows in several renders but counts once
    names = list(names)
    for language in languages:
        sample = sample_notice(language)
        jobs: list[Callable[[], object]] = [partial(templates.html, "Sample", "Text\n\nMore text\n", sample)]
        jobs += [partial(templates.render, replace(sample, template=name, stage=name), letter=letter)
                 for name in names for letter in (False, True)]
        for job in jobs:
            found.update(dict.fromkeys(_problems_of(job)))
    return list(found)


def _problems_of(job: Callable[[], object]) -> list[ConfigProblem]:
    try:
        job()
    except ConfigError as err:
        return err.problems
    return []
