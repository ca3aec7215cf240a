"""SMTP, the fallback channel for customer messages: build one MIME message, send it, probe the server.

    MahnwerkError
    └── SmtpError                   .host, .port, .code (None without a reply), .reply; .permanent
        ├── SmtpUnavailable         retry later: connection refused, timeout, dropped connection, 4xx replies
        └── SmtpRejected            don't retry: 5xx replies, TLS failures, unusable headers (.permanent = True)
            ├── SmtpAuthFailed      login refused or not offered: the configuration is wrong, not this message
            └── SmtpRecipientRefused  this customer's address is refused (5xx on RCPT): a letter may reach them

Error messages never contain the password or the recipient's address (the server's reply is kept, with the
address replaced by ***), because they end up in logs, in the outbox and on the merchant's terminal.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import smtplib
import ssl
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path
from types import MappingProxyType

import structlog

from mahnwerk.connectors.records import Attachment
from mahnwerk.errors import MahnwerkError

log = structlog.get_logger("mahnwerk.smtp")

SECURITY_MODES = {"starttls": "STARTTLS", "tls": "TLS", "none": "plain"}
NO_HEADERS: Mapping[str, str] = MappingProxyType({})
# Set by build_message itself; extra headers may not replace them.
OWN_HEADERS = frozenset({"from", "to", "reply-to", "subject", "date", "message-id", "mime-version",
                         "content-type", "content-transfer-encoding", "bcc", "cc"})


class SmtpError(MahnwerkError):
    """Raised when the SMTP server cannot be used or refuses; carries the server's code and reply."""

    permanent = False

    def __init__(self, message: str, *, host: str = "", port: int = 0, code: int | None = None,
                 reply: str = "") -> None:
        self.host, self.port, self.code, self.reply = host, port, code, reply
        super().__init__(message)


class SmtpUnavailable(SmtpError):
    """Raised on refused connections, timeouts, dropped connections and 4xx replies: worth retrying later."""


class SmtpRejected(SmtpError):
    """Raised on 5xx replies, TLS failures and unusable headers: retrying will not help."""

    permanent = True


class SmtpAuthFailed(SmtpRejected):
    """Raised when the server refuses the login (or offers none where one is configured)."""


class SmtpRecipientRefused(SmtpRejected):
    """Raised when the server permanently refuses the recipient's address."""


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach the merchant's SMTP server and who the messages are from."""

    host: str
    port: int
    security: str  # "starttls", "tls" (implicit TLS, SMTPS) or "none" (loopback only, checked by the config)
    username: str | None
    password: str | None = field(repr=False)
    sender: str
    sender_name: str
    reply_to: str | None
    timeout: float = 30
    ca_bundle: Path | None = None  # trust this PEM instead of the system store

    def __post_init__(self) -> None:
        if self.security not in SECURITY_MODES:
            raise ValueError(f"security must be one of {', '.join(SECURITY_MODES)} (got {self.security!r})")


_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL_PART = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_LINE_BREAK_OR_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")  # tab is fine
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def ascii_domain(domain: str) -> str | None:
    """The domain as sent over SMTP (IDN labels punycoded), or None if it cannot be encoded safely."""
    try:
        encoded = domain.encode("idna").decode("ascii")
        # Python's codec is IDNA 2003, which maps ß to ss and ς to σ: that is someone else's domain.
        if not domain.isascii() and encoded.encode("ascii").decode("idna").lower() != domain.lower():
            return None
    except UnicodeError:
        return None
    return encoded


def valid_email(address: str) -> bool:
    """Whether `address` is a plain `local@domain` we can deliver to: ASCII dot-atom local part, a domain of
    at least two labels (IDN allowed), no quoting, comments, IP literals, spaces or trailing dots."""
    local, at, domain = address.rpartition("@")
    if not at or len(address) > 254 or len(local) > 64 or not _LOCAL_PART.fullmatch(local):
        return False
    encoded = ascii_domain(domain)
    if not encoded or len(encoded) > 253:
        return False
    labels = encoded.lower().split(".")
    return len(labels) >= 2 and all(_LABEL.fullmatch(label) for label in labels) and not labels[-1].isdigit()


def message_id_for(key: str, domain: str) -> str:
    """A Message-ID derived from the idempotency key: a resent message has the same ID, so mail clients and
    mailbox providers can recognise the duplicate."""
    return f"<mahnwerk.{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}@{ascii_domain(domain) or domain}>"


def build_message(*, settings: SmtpSettings, to: str, to_name: str, subject: str, text: str, html: str | None,
                  attachments: Sequence[Attachment] = (), message_id: str,
                  headers: Mapping[str, str] = NO_HEADERS) -> EmailMessage:
    """One UTF-8 message to one recipient: text (+ HTML as alternative), attachments in multipart/mixed.

    Raises SmtpRejected on line breaks in any header value (header injection) or an unusable address."""
    _refuse_unsafe(settings, to=to, headers=headers, single_line={
        "to": to, "to_name": to_name, "subject": subject, "message_id": message_id,
        "sender_name": settings.sender_name, **{f"headers[{k!r}]": f"{k}: {v}" for k, v in headers.items()},
        **{f"attachments[{i}].filename": a.filename for i, a in enumerate(attachments)}})
    message = EmailMessage()
    message["From"] = _address(settings.sender_name, settings.sender)
    message["To"] = _address(to_name, to)
    if settings.reply_to:
        message["Reply-To"] = _address("", settings.reply_to)
    message["Subject"] = subject
    message["Date"] = datetime.now(UTC)
    message["Message-ID"] = message_id
    for name, value in headers.items():
        message[name] = value
    # quoted-printable keeps the body 7-bit: no need for the server to offer 8BITMIME
    message.set_content(text, charset="utf-8", cte="quoted-printable")
    if html is not None:
        message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    for attachment in attachments:
        maintype, _, subtype = attachment.mime_type.partition("/")
        message.add_attachment(attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename)
    return message


def _refuse_unsafe(settings: SmtpSettings, *, to: str, headers: Mapping[str, str],
                   single_line: Mapping[str, str]) -> None:
    for name, value in single_line.items():
        if _LINE_BREAK_OR_CONTROL.search(value):  # a line break would start a header of the caller's choosing
            raise SmtpRejected(f"{name}: must be a single line without control characters")
    if not valid_email(to):  # the address itself stays out of the message: it ends up in logs
        raise SmtpRejected("to: not a usable e-mail address")
    addresses: tuple[tuple[str, str | None], ...] = (("sender", settings.sender), ("reply_to", settings.reply_to))
    for name, address in addresses:
        if address is not None and not valid_email(address):
            raise SmtpRejected(f"{name}: not a usable e-mail address (got {address!r})")
    if clash := OWN_HEADERS & {k.lower() for k in headers}:
        raise ValueError(f"headers: may not replace {', '.join(sorted(clash))}")


def _address(name: str, addr_spec: str) -> Address:
    # The name only ever becomes a display name (quoted or RFC 2047 encoded); the domain goes out punycoded.
    local, _, domain = addr_spec.rpartition("@")
    return Address(display_name=name, username=local, domain=ascii_domain(domain) or domain)


def send(settings: SmtpSettings, message: EmailMessage) -> str:
    """Deliver a message from build_message; returns its Message-ID. Raises SmtpUnavailable or SmtpRejected."""
    recipients = [a.addr_spec for a in message["To"].addresses]
    with _session(settings, hide=recipients) as smtp:
        smtp.send_message(message, from_addr=_address("", settings.sender).addr_spec, to_addrs=recipients)
    message_id = str(message["Message-ID"])
    log.info("smtp.sent", host=settings.host, message_id=message_id)
    return message_id


def probe(settings: SmtpSettings) -> str:
    """Connect, secure, log in and quit, for `mahnwerk check`: "smtp.example.com:587 STARTTLS, login ok"."""
    with _session(settings):
        pass
    login = "login ok" if settings.username else "no login"
    return f"{settings.host}:{settings.port} {SECURITY_MODES[settings.security]}, {login}"


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine (localhost, 127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@contextmanager
def _session(settings: SmtpSettings, *, hide: Sequence[str] = ()) -> Iterator[smtplib.SMTP]:
    """A connected, secured and logged-in client that quits afterwards; failures become SmtpErrors."""
    if settings.username and settings.security == "none" and not is_loopback(settings.host):
        raise SmtpRejected(f"smtp {settings.host}:{settings.port}: refusing to send the password over an "
                           'unencrypted connection; use security = "starttls" or "tls"',
                           host=settings.host, port=settings.port)
    try:
        smtp = _connect(settings)
        try:
            yield smtp
        finally:
            _quit_quietly(smtp)
    except OSError as exc:  # smtplib.SMTPException and ssl.SSLError are OSErrors too
        raise classify(exc, settings, hide=[*hide, settings.password or ""]) from exc


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    context = ssl.create_default_context(cafile=settings.ca_bundle)  # verifies the chain and the host name
    if settings.security == "tls":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout,
                                              context=context)
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    try:
        smtp.ehlo()
        if settings.security == "starttls":
            smtp.starttls(context=context)  # raises if the server does not offer it: never fall back to plain
            smtp.ehlo()
        if settings.username:
            smtp.login(settings.username, settings.password or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def _quit_quietly(smtp: smtplib.SMTP) -> None:
    # Once the server has accepted the message, a failing QUIT must not make the caller send it again
    # (smtplib's own __exit__ raises on a reply other than 221).
    try:
        smtp.quit()
    except OSError:
        smtp.close()


# Which error a refusal becomes when its code is 5xx; 4xx is always SmtpUnavailable.
REFUSALS: dict[type[Exception], tuple[str, type[SmtpRejected]]] = {
    smtplib.SMTPAuthenticationError: ("login refused", SmtpAuthFailed),
    smtplib.SMTPRecipientsRefused: ("recipient refused", SmtpRecipientRefused),
    smtplib.SMTPSenderRefused: ("sender refused", SmtpRejected),
    smtplib.SMTPDataError: ("message refused", SmtpRejected),
}


def classify(exc: OSError, settings: SmtpSettings, *, hide: Sequence[str] = ()) -> SmtpError:
    """The SmtpError for a failure of smtplib, ssl or the socket; each of `hide` becomes *** in the text."""
    code, reply = _server_reply(exc)
    if code is not None:
        what, refused = REFUSALS.get(type(exc), ("server refused", SmtpRejected))
        error: type[SmtpError] = refused if code >= 500 else SmtpUnavailable
    else:
        error, what = _problem(exc)
    for secret in filter(None, hide):
        reply, what = reply.replace(secret, "***"), what.replace(secret, "***")
    text = f"smtp {settings.host}:{settings.port}: {what}" + (f": {code} {reply}" if code is not None else "")
    return error(text, host=settings.host, port=settings.port, code=code, reply=reply)


def _server_reply(exc: OSError) -> tuple[int | None, str]:
    raw: bytes | str
    if isinstance(exc, smtplib.SMTPRecipientsRefused):  # one recipient per message
        code, raw = next(iter(exc.recipients.values()))
    elif isinstance(exc, smtplib.SMTPResponseException):
        code, raw = exc.smtp_code, exc.smtp_error
    else:
        return None, ""
    return code, raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def _problem(exc: OSError) -> tuple[type[SmtpError], str]:
    """Error class and reason for a failure without a server reply."""
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return SmtpUnavailable, f"connection closed unexpectedly ({exc})"
    if isinstance(exc, smtplib.SMTPException):  # STARTTLS or AUTH not offered, no usable login mechanism
        return (SmtpAuthFailed if "auth" in str(exc).lower() else SmtpRejected), str(exc).rstrip(".")
    if isinstance(exc, ssl.SSLCertVerificationError):  # retrying cannot fix a certificate
        return SmtpRejected, (f"TLS certificate not accepted ({exc.verify_message}); "
                              "if the server uses its own CA, set smtp.ca_bundle")
    if isinstance(exc, ssl.SSLError):
        return SmtpRejected, f"TLS handshake failed ({exc.reason or exc}); check smtp.security and smtp.port"
    if isinstance(exc, TimeoutError):
        return SmtpUnavailable, "timed out"
    return SmtpUnavailable, f"cannot connect: {exc.strerror or exc}"
