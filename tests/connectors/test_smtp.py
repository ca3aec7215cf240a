"""connectors/smtp.py against real aiosmtpd servers on 127.0.0.1: MIME shape, TLS, login, refusals, injection."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import structlog
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from mahnwerk.connectors.smtp import (
    Attachment,
    SmtpAuthFailed,
    SmtpRecipientRefused,
    SmtpRejected,
    SmtpSettings,
    SmtpUnavailable,
    build_message,
    message_id_for,
    probe,
    send,
    valid_email,
)

PASSWORD = "s3cret-Passw0rd"
CUSTOMER = "anna.mueller+shop@example.org"


@dataclass
class Inbox:
    """aiosmtpd handler: keeps every accepted envelope; `replies` makes MAIL, RCPT or DATA answer otherwise."""

    envelopes: list[Envelope] = field(default_factory=list)
    replies: dict[str, str] = field(default_factory=dict)

    async def handle_MAIL(self, server: Any, session: Session, envelope: Envelope, address: str,
                          options: list[str]) -> str:
        envelope.mail_from = address
        return self.replies.get("MAIL", "250 OK")

    async def handle_RCPT(self, server: Any, session: Session, envelope: Envelope, address: str,
                          options: list[str]) -> str:
        envelope.rcpt_tos.append(address)
        return self.replies.get("RCPT", "250 OK")

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return self.replies.get("DATA", "250 Message accepted for delivery")

    def received(self) -> EmailMessage:
        """The one message received, parsed as a mail client would."""
        [envelope] = self.envelopes
        return email.message_from_bytes(envelope.content, policy=email.policy.default)  # type: ignore[return-value]


def free_port() -> int:
    """A port nothing listens on (aiosmtpd's Controller needs the number before it starts)."""
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        return probe_socket.getsockname()[1]


def check_password(server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
    """aiosmtpd authenticator: one user, `shop` with PASSWORD."""
    ok = isinstance(data, LoginPassword) and data.login == b"shop" and data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_pem(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def server_tls(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    """A server-side TLS context with a certificate from `ca` for `names`."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*(names or ("127.0.0.1", "localhost"))).configure_cert(context)
    return context


@pytest.fixture
def serve() -> Iterator[Callable[..., tuple[Inbox, int]]]:
    """Start an aiosmtpd server on 127.0.0.1 with Controller/SMTP keyword arguments; returns its inbox and port."""
    controllers: list[Controller] = []

    def start(**kwargs: Any) -> tuple[Inbox, int]:
        inbox = Inbox()
        controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), server_hostname="mx.test", **kwargs)
        controller.start()
        controllers.append(controller)
        return inbox, controller.port

    yield start
    for controller in controllers:
        controller.stop()


def settings(port: int, **changes: Any) -> SmtpSettings:
    """Settings for the test server on `port`, plain and without login unless `changes` say otherwise."""
    base = SmtpSettings(host="127.0.0.1", port=port, security="none", username=None, password=None,
                        sender="mahnung@bäckerei-schäfer.de", sender_name="Bäckerei Schäfer – Buchhaltung",
                        reply_to="buchhaltung@example.com", timeout=5)
    return replace(base, **changes)


def a_message(port: int = 25, **changes: Any) -> EmailMessage:
    """A reminder to CUSTOMER with umlauts everywhere; `changes` override build_message's arguments."""
    args: dict[str, Any] = {
        "settings": settings(port), "to": CUSTOMER, "to_name": "Anna Müller-Lüdenscheidt",
        "subject": "Zahlungserinnerung für Rechnung 1042 – fällig seit 14 Tagen",
        "text": "Sehr geehrte Frau Müller,\n\nbitte überweisen Sie 119,00 €.\n",
        "html": "<p>Sehr geehrte Frau Müller, bitte überweisen Sie <b>119,00 €</b>.</p>",
        "message_id": message_id_for("berlin:1042:reminder", "bäckerei-schäfer.de"),
    }
    return build_message(**args | changes)


def test_plain_delivery_keeps_umlauts_structure_and_message_id(serve: Callable[..., tuple[Inbox, int]]) -> None:
    """Text and HTML arrive as multipart/alternative; umlauts in subject, body and names survive the trip."""
    inbox, port = serve()
    message = a_message(port)
    assert send(settings(port), message) == message["Message-ID"]

    [envelope] = inbox.envelopes
    assert envelope.mail_from == "mahnung@xn--bckerei-schfer-5hbk.de"
    assert envelope.rcpt_tos == [CUSTOMER]
    got = inbox.received()
    assert got.get_content_type() == "multipart/alternative"
    assert got["Subject"] == "Zahlungserinnerung für Rechnung 1042 – fällig seit 14 Tagen"
    assert got["To"].addresses[0].display_name == "Anna Müller-Lüdenscheidt"
    assert got["From"].addresses[0].display_name == "Bäckerei Schäfer – Buchhaltung"
    assert got["Reply-To"] == "buchhaltung@example.com"
    # a long Message-ID is folded onto its own line; Python's parser keeps the folding space
    assert got["Message-ID"].strip() == message["Message-ID"] and got["Date"].datetime.tzinfo is not None
    assert envelope.content.isascii()  # quoted-printable and RFC 2047: no 8BITMIME needed
    text = got.get_body(("plain",)).get_content()  # quoted-printable decodes to the wire's CRLF line ends
    assert text.splitlines() == ["Sehr geehrte Frau Müller,", "", "bitte überweisen Sie 119,00 €."]
    assert "<b>119,00 €</b>" in got.get_body(("html",)).get_content()


def test_attachments_arrive_with_filename_and_bytes(serve: Callable[..., tuple[Inbox, int]]) -> None:
    """Attachments wrap the alternative in multipart/mixed and arrive byte for byte."""
    inbox, port = serve()
    pdf = b"%PDF-1.7\n" + bytes(range(256)) * 40
    attachments = [Attachment("Mahnung 1042 – Müller.pdf", pdf), Attachment("a.csv", b"x;y\r\n1;2\r\n", "text/csv")]
    send(settings(port), a_message(port, attachments=attachments))

    got = inbox.received()
    assert got.get_content_type() == "multipart/mixed"
    assert got.get_body(("plain",)).get_content().startswith("Sehr geehrte")
    received = [(part.get_filename(), part.get_content_type(), part.get_payload(decode=True))
                for part in got.iter_attachments()]
    assert received == [("Mahnung 1042 – Müller.pdf", "application/pdf", pdf), ("a.csv", "text/csv", b"x;y\r\n1;2\r\n")]


def test_text_only_message_is_a_single_part() -> None:
    """Without HTML and attachments the message is just text/plain in UTF-8."""
    message = a_message(html=None)
    assert message.get_content_type() == "text/plain" and message.get_content_charset() == "utf-8"


def test_idn_recipient_goes_out_punycoded(serve: Callable[..., tuple[Inbox, int]]) -> None:
    """An umlaut domain is sent as its ASCII (punycode) form, which every server understands."""
    inbox, port = serve()
    send(settings(port), a_message(port, to="anna@müller.de"))
    assert inbox.envelopes[0].rcpt_tos == ["anna@xn--mller-kva.de"]


def test_message_id_is_derived_from_the_idempotency_key() -> None:
    """The same key gives the same Message-ID, another key another one."""
    first = message_id_for("berlin:1042:dunning_1", "example.com")
    assert first == message_id_for("berlin:1042:dunning_1", "example.com")
    assert first != message_id_for("berlin:1042:dunning_2", "example.com")
    assert first.startswith("<mahnwerk.") and first.endswith("@example.com>")
    assert len(first) == len("<mahnwerk.@example.com>") + 32


def test_starttls_with_a_private_ca(serve: Callable[..., tuple[Inbox, int]], ca: trustme.CA, ca_pem: Path) -> None:
    """STARTTLS verifies the server against ca_bundle; the server refuses mail before STARTTLS."""
    inbox, port = serve(tls_context=server_tls(ca), require_starttls=True)
    config = settings(port, security="starttls", ca_bundle=ca_pem)
    send(config, a_message(port))
    assert len(inbox.envelopes) == 1
    assert probe(config) == f"127.0.0.1:{port} STARTTLS, no login"


def test_implicit_tls(serve: Callable[..., tuple[Inbox, int]], ca: trustme.CA, ca_pem: Path) -> None:
    """security = "tls" speaks TLS from the first byte (SMTPS)."""
    inbox, port = serve(ssl_context=server_tls(ca))
    send(settings(port, security="tls", ca_bundle=ca_pem), a_message(port))
    assert len(inbox.envelopes) == 1


@pytest.mark.parametrize(("security", "server"), [("starttls", "tls_context"), ("tls", "ssl_context")])
@pytest.mark.parametrize("problem", ["untrusted CA", "wrong host name"])
def test_certificate_problems_are_refused_clearly(serve: Callable[..., tuple[Inbox, int]], ca: trustme.CA,
                                                  ca_pem: Path, tmp_path: Path, security: str, server: str,
                                                  problem: str) -> None:
    """A certificate from an unknown CA, or for another name, stops the connection: nothing is sent."""
    if problem == "untrusted CA":
        inbox, port = serve(**{server: server_tls(trustme.CA())})
    else:
        inbox, port = serve(**{server: server_tls(ca, "mail.example.net")})
    with pytest.raises(SmtpRejected) as err:
        send(settings(port, security=security, ca_bundle=ca_pem), a_message(port))
    assert "TLS certificate not accepted" in str(err.value) and "smtp.ca_bundle" in str(err.value)
    assert inbox.envelopes == []


def test_starttls_not_offered_is_not_a_reason_to_send_in_plain(serve: Callable[..., tuple[Inbox, int]],
                                                             ca_pem: Path) -> None:
    """A server without STARTTLS is refused rather than used unencrypted."""
    inbox, port = serve()
    with pytest.raises(SmtpRejected, match="STARTTLS"):
        send(settings(port, security="starttls", ca_bundle=ca_pem), a_message(port))
    assert inbox.envelopes == []


@pytest.mark.parametrize("mechanism", ["LOGIN", "PLAIN"])
def test_login_over_tls(serve: Callable[..., tuple[Inbox, int]], ca: trustme.CA, ca_pem: Path,
                        mechanism: str) -> None:
    """AUTH LOGIN and AUTH PLAIN both work over STARTTLS; probe says so."""
    other = {"LOGIN": "PLAIN", "PLAIN": "LOGIN"}[mechanism]
    inbox, port = serve(tls_context=server_tls(ca), require_starttls=True, authenticator=check_password,
                        auth_require_tls=True, auth_required=True, auth_exclude_mechanism=[other])
    config = settings(port, security="starttls", ca_bundle=ca_pem, username="shop", password=PASSWORD)
    send(config, a_message(port))
    assert len(inbox.envelopes) == 1
    assert probe(config) == f"127.0.0.1:{port} STARTTLS, login ok"


def test_wrong_password_is_auth_failed_without_the_password(serve: Callable[..., tuple[Inbox, int]],
                                                            ca: trustme.CA, ca_pem: Path) -> None:
    """A refused login is permanent, carries the server's code, and never shows the password."""
    inbox, port = serve(tls_context=server_tls(ca), authenticator=check_password, auth_require_tls=True)
    config = settings(port, security="starttls", ca_bundle=ca_pem, username="shop", password=PASSWORD + "x")
    with pytest.raises(SmtpAuthFailed) as err:
        probe(config)
    assert err.value.permanent and err.value.code == 535 and "535" in str(err.value)
    assert PASSWORD not in str(err.value) and PASSWORD not in repr(config)
    assert inbox.envelopes == []


def test_password_never_goes_over_plain_text_to_another_host() -> None:
    """security = "none" with a login is refused before connecting unless the server is on this machine."""
    config = settings(25, host="192.0.2.10", username="shop", password=PASSWORD)
    with pytest.raises(SmtpRejected, match="unencrypted") as err:
        send(config, a_message())
    assert PASSWORD not in str(err.value)


def test_plain_login_to_a_loopback_relay_is_allowed(serve: Callable[..., tuple[Inbox, int]]) -> None:
    """A relay on 127.0.0.1 may take the login without TLS (the password never leaves the machine)."""
    inbox, port = serve(authenticator=check_password, auth_require_tls=False)
    send(settings(port, username="shop", password=PASSWORD), a_message(port))
    assert len(inbox.envelopes) == 1


def test_login_without_auth_on_offer_is_auth_failed(serve: Callable[..., tuple[Inbox, int]]) -> None:
    """A configured login the server does not offer (here: AUTH only after TLS) is a clear, permanent error."""
    _, port = serve(authenticator=check_password, auth_require_tls=True)
    with pytest.raises(SmtpAuthFailed, match="AUTH"):
        probe(settings(port, username="shop", password=PASSWORD))


@pytest.mark.parametrize(("command", "reply", "error", "code"), [
    ("RCPT", "550 5.1.1 <anna.mueller+shop@example.org>: Recipient address rejected", SmtpRecipientRefused, 550),
    ("RCPT", "451 4.7.1 Greylisted, please try again later", SmtpUnavailable, 451),
    ("MAIL", "553 5.7.1 Sender address rejected: not owned by user", SmtpRejected, 553),
    ("DATA", "554 5.7.1 Message refused as spam", SmtpRejected, 554),
    ("DATA", "452 4.3.1 Insufficient system storage", SmtpUnavailable, 452),
])
def test_server_replies_map_to_error_classes(serve: Callable[..., tuple[Inbox, int]], command: str, reply: str,
                                             error: type[Exception], code: int) -> None:
    """5xx is permanent, 4xx worth retrying; the server's code and text are kept, the customer's address is not."""
    inbox, port = serve()
    inbox.replies[command] = reply
    with pytest.raises(error) as err:
        send(settings(port), a_message(port))
    assert type(err.value) is error
    assert err.value.code == code and err.value.permanent == (code >= 500)
    assert reply.split(" ", 2)[2].replace(CUSTOMER, "***") in str(err.value)
    assert CUSTOMER not in str(err.value)


def test_closed_port_is_unavailable() -> None:
    """Nothing listening: worth retrying later."""
    with pytest.raises(SmtpUnavailable, match="cannot connect"):
        send(settings(free_port()), a_message())


def test_silent_server_times_out_as_unavailable() -> None:
    """A server that accepts the connection but never greets: timed out, worth retrying."""
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        with pytest.raises(SmtpUnavailable, match="timed out"):
            probe(settings(port, timeout=0.5))


@pytest.mark.parametrize("changes", [
    {"to": "x@example.org\r\nBcc: y@example.org"},
    {"to": "x@example.org\nBcc: y@example.org"},
    {"subject": "Mahnung\nBcc: y@example.org"},
    {"to_name": "Anna\r\nBcc: y@example.org"},
    {"headers": {"X-Mahnwerk-Claim": "1042\r\nBcc: y@example.org"}},
    {"attachments": [Attachment("a.pdf\r\nBcc: y@example.org", b"%PDF")]},
    {"subject": "Mahnung\x00"},
])
def test_header_injection_is_refused(changes: dict[str, Any]) -> None:
    """A line break in any header value is refused before a message exists."""
    with pytest.raises(SmtpRejected, match="single line"):
        a_message(**changes)


def test_hostile_names_are_only_display_text(serve: Callable[..., tuple[Inbox, int]]) -> None:
    """Markup and address-like text in a name stay inside the display name: one recipient, nothing interpreted."""
    inbox, port = serve()
    hostile = '<script>alert(1)</script>", evil@attacker.example, "x'
    send(settings(port), a_message(port, to_name=hostile))
    assert inbox.envelopes[0].rcpt_tos == [CUSTOMER]
    [to] = inbox.received()["To"].addresses
    assert (to.display_name, to.addr_spec) == (hostile, CUSTOMER)


def test_unusable_recipient_is_refused_without_showing_it() -> None:
    """build_message refuses an address valid_email refuses; the address stays out of the error."""
    with pytest.raises(SmtpRejected, match="not a usable e-mail address") as err:
        a_message(to="anna mueller@example.org")
    assert "mueller" not in str(err.value)


def test_info_logs_carry_no_customer_address(serve: Callable[..., tuple[Inbox, int]]) -> None:
    """The sent event names the Message-ID, not the customer."""
    _, port = serve()
    with structlog.testing.capture_logs() as logs:
        send(settings(port), a_message(port))
    assert [e["event"] for e in logs if e["log_level"] == "info"] == ["smtp.sent"]
    assert not any(CUSTOMER in str(e) for e in logs if e["log_level"] != "debug")


@pytest.mark.parametrize("address", [
    "anna@example.org", "anna.mueller+mahnung@example.co.uk", "ANNA@Example.ORG", "o'brien@example.ie",
    "info@müller.de", "info@xn--mller-kva.de", "a_b-c@sub.domain-1.example",
])
def test_valid_email_accepts_normal_addresses(address: str) -> None:
    """Dot-atoms, plus-tags, mixed case and IDN domains are deliverable."""
    assert valid_email(address)


@pytest.mark.parametrize("address", [
    "", "anna", "anna@", "@example.org", "anna mueller@example.org", "anna@exa mple.org", "anna@b@example.org",
    "anna@example.org.", "anna.@example.org", ".anna@example.org", "an..na@example.org", "anna@localhost",
    "anna@-example.org", "anna@example..org", "anna@127.0.0.1", "anna@[127.0.0.1]", '"anna"@example.org',
    "Anna <anna@example.org>", "anna@example.org\n", "änna@example.org",
    "anna@straße.de",  # IDNA 2003 (Python's codec) would turn this into strasse.de, someone else's domain
])
def test_valid_email_rejects_unusable_addresses(address: str) -> None:
    """Empty, no or two @, spaces, trailing or double dots, bare hosts, literals, quoting and names are refused."""
    assert not valid_email(address)
