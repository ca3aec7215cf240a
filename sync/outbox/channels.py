"""How a notice reaches the customer: through the shop's own customer channel, by e-mail, or as a PDF letter in the
print folder.

Each channel can `deliver` a prepared message and, after an interrupted attempt, `find` what that attempt left
behind: a reference when it arrived, None when it surely did not, UNKNOWN when nobody can tell (SMTP has no
read-back, some shops neither), which the executor dead-letters for a person to decide instead of risking a second
message.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from mahnwerk.connectors.letter import LetterContent, find_font, render_letter, write_letter
from mahnwerk.connectors.records import Attachment, CustomerMessage
from mahnwerk.connectors.shop import UNKNOWN, ShopActions
from mahnwerk.connectors.smtp import SmtpSettings, build_message, message_id_for, send

__all__ = ["UNKNOWN", "Channel", "Email", "Letter", "Prepared", "ShopChannel", "message_of"]


@dataclass
class Prepared:
    """One message ready to go: subject and texts, the letter's content and its file, the recipient."""

    key: str
    subject: str
    text: str
    html: str
    to: str
    to_name: str
    language: str
    letter: LetterContent | None = None
    letter_path: Path | None = None

    def message(self) -> CustomerMessage:
        return CustomerMessage(self.key, self.to, self.to_name, self.subject, self.text, self.html, self.language)


def message_of(key: str, payload: dict[str, Any]) -> CustomerMessage:
    """The message an earlier attempt stored in its row (for looking it up after a crash)."""
    text = payload.get("text")
    if text is None and payload.get("note"):  # a row from before 0.2, which stored the shop's escaped note
        text = html.unescape(payload["note"]).partition("\n\n")[2]
    return CustomerMessage(key, payload.get("to", ""), "", payload.get("subject", ""), text or "", "",
                           payload.get("language", ""))


def letter_attachment(message: Prepared, font: Path | None) -> tuple[Attachment, ...]:
    """The notice as a PDF letter, made in memory (the print folder holds only letters to post); none when the
    message has no letter."""
    if message.letter is None or message.letter_path is None:
        return ()
    return (Attachment(message.letter_path.name, render_letter(message.letter, font=font or find_font())),)


class Channel(Protocol):
    name: str

    def find(self, order_id: str, key: str, payload: dict[str, Any]) -> str | None: ...

    def deliver(self, order_id: str, message: Prepared) -> str: ...


class ShopChannel:
    """The shop's own customer channel (a customer note the shop mails, or the shop's mailer), with the notice as
    a PDF letter attached when the kind's channel carries files and the merchant wants it."""

    name = "shop"

    def __init__(self, actions: ShopActions, *, attach_letter: bool = False, font: Path | None = None) -> None:
        self.actions, self.attach_letter, self.font = actions, attach_letter, font

    def find(self, order_id: str, key: str, payload: dict[str, Any]) -> str | None:
        if not payload.get("subject"):
            return None  # the attempt stopped before its message was stored: nothing went out
        return self.actions.find_message(order_id, message_of(key, payload))

    def deliver(self, order_id: str, message: Prepared) -> str:
        return self.actions.send_message(order_id, replace(message.message(), attachments=letter_attachment(
            message, self.font) if self.attach_letter else ()))


class Email:
    """SMTP, with the notice attached as a PDF letter when configured (made in memory: the print folder holds only
    letters to post)."""

    name = "email"

    def __init__(self, settings: SmtpSettings, *, attach_letter: bool, domain: str, font: Path | None) -> None:
        self.settings, self.attach_letter, self.domain, self.font = settings, attach_letter, domain, font

    def find(self, order_id: str, key: str, payload: dict[str, Any]) -> str | None:
        return UNKNOWN if payload.get("subject") else None

    def deliver(self, order_id: str, message: Prepared) -> str:
        attachments = list(letter_attachment(message, self.font)) if self.attach_letter else []
        mail = build_message(settings=self.settings, to=message.to, to_name=message.to_name, subject=message.subject,
                             text=message.text, html=message.html, attachments=attachments,
                             message_id=message_id_for(message.key, self.domain))
        return f"mail {send(self.settings, mail)}"


class Letter:
    """A PDF for postal mail in the print folder; the file is its own marker."""

    name = "letter"

    def __init__(self, font: Path | None) -> None:
        self.font = font

    def find(self, order_id: str, key: str, payload: dict[str, Any]) -> str | None:
        path = payload.get("letter_path")
        return f"letter {path}" if path and Path(path).is_file() else None

    def deliver(self, order_id: str, message: Prepared) -> str:
        assert message.letter is not None and message.letter_path is not None
        return f"letter {write_letter(message.letter, message.letter_path, font=self.font)}"
