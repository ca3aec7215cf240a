"""How a notice reaches the customer: the shop's customer note, an e-mail, or a PDF letter in the print folder.

Each channel can `deliver` a prepared message and, after an interrupted attempt, `find` what that attempt left
behind: a reference when it arrived, None when it surely did not, UNKNOWN when nobody can tell (SMTP has no
read-back), which the executor dead-letters for a person to decide instead of risking a second mail.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mahnwerk.connectors.letter import LetterContent, write_letter
from mahnwerk.connectors.smtp import Attachment, SmtpSettings, build_message, message_id_for, send
from mahnwerk.connectors.woocommerce_actions import WooActions, same_text

UNKNOWN = "?unknown"


@dataclass
class Prepared:
    """One message ready to go: texts for mail and note, the letter's content and its file, the recipient."""

    subject: str
    text: str
    html: str
    note: str
    to: str
    to_name: str
    letter: LetterContent | None = None
    letter_path: Path | None = None


class Channel(Protocol):
    name: str

    def find(self, order_id: str, payload: dict[str, Any]) -> str | None: ...

    def deliver(self, order_id: str, key: str, message: Prepared) -> str: ...


class ShopNote:
    """WooCommerce customer note: the shop mails it through its own mailer. Shopware's mail service slots in here."""

    name = "shop"

    def __init__(self, actions: WooActions) -> None:
        self.actions = actions

    def find(self, order_id: str, payload: dict[str, Any]) -> str | None:
        note = payload.get("note")
        if not note:
            return None
        return next((n.id for n in self.actions.notes(order_id) if n.customer and same_text(note, n.text)), None)

    def deliver(self, order_id: str, key: str, message: Prepared) -> str:
        return f"note {self.actions.send_customer_message(order_id, message.note)}"


class Email:
    """SMTP, with the notice attached as a PDF letter when configured."""

    name = "email"

    def __init__(self, settings: SmtpSettings, *, attach_letter: bool, domain: str, font: Path | None) -> None:
        self.settings, self.attach_letter, self.domain, self.font = settings, attach_letter, domain, font

    def find(self, order_id: str, payload: dict[str, Any]) -> str | None:
        return UNKNOWN if payload.get("note") else None

    def deliver(self, order_id: str, key: str, message: Prepared) -> str:
        attachments = []
        if self.attach_letter and message.letter is not None and message.letter_path is not None:
            path = write_letter(message.letter, message.letter_path, font=self.font)
            attachments.append(Attachment(path.name, path.read_bytes()))
        mail = build_message(settings=self.settings, to=message.to, to_name=message.to_name, subject=message.subject,
                             text=message.text, html=message.html, attachments=attachments,
                             message_id=message_id_for(key, self.domain))
        return f"mail {send(self.settings, mail)}"


class Letter:
    """A PDF for postal mail in the print folder; the file is its own marker."""

    name = "letter"

    def __init__(self, font: Path | None) -> None:
        self.font = font

    def find(self, order_id: str, payload: dict[str, Any]) -> str | None:
        path = payload.get("letter_path")
        return f"letter {path}" if path and Path(path).is_file() else None

    def deliver(self, order_id: str, key: str, message: Prepared) -> str:
        assert message.letter is not None and message.letter_path is not None
        return f"letter {write_letter(message.letter, message.letter_path, font=self.font)}"
