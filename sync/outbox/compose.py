"""What a notice looks like to its customer: the channel it takes, its subject, text and HTML, and its letter.

One function for the executor (which sends it) and the preview (which shows it, `mahnwerk preview` and the web
console's claim page), so a preview is exactly what the customer gets.
"""

from __future__ import annotations

from dataclasses import dataclass

from mahnwerk.connectors.letter import LetterContent, find_font, render_letter
from mahnwerk.connectors.smtp import valid_email
from mahnwerk.errors import MahnwerkError
from mahnwerk.policy.engine import Assessment
from mahnwerk.policy.notice import Notice
from mahnwerk.sync.config import ShopConfig
from mahnwerk.sync.outbox.letters import letter_content
from mahnwerk.sync.outbox.notices import build_notice
from mahnwerk.sync.outbox.templates import Rendered, Templates
from mahnwerk.sync.store.models import Claim


@dataclass(frozen=True)
class Route:
    """The channel a notice takes; `no_email` when it was meant for the customer's inbox but goes as a letter."""

    channel: str
    no_email: bool


@dataclass(frozen=True)
class Composed:
    """A notice rendered for its channel: the mail parts, and the letter's content when the channel carries one."""

    notice: Notice
    rendered: Rendered
    letter: LetterContent | None

    def pdf(self, shop: ShopConfig) -> bytes | None:
        """The letter as PDF, in the shop's font; None when it was not composed."""
        if self.letter is None:
            return None
        return render_letter(self.letter, font=shop.letters.font or find_font())


def shop_attaches(shop: ShopConfig) -> bool:
    """Whether the shop's own customer channel carries the notice as a PDF letter (kind able, merchant wants it)."""
    kind = shop.shop_kind
    return bool(kind and kind.attachments and shop.delivery.attach_letter)


def route(shop: ShopConfig, claim: Claim, stage: str, stage_channel: str) -> Route:
    """The channel for a stage's notice: a channel the shop cannot use falls back to the shop's own (e-mail without
    [smtp] is an error), and a customer without a usable e-mail address gets a letter."""
    if stage_channel == "email" and not shop.smtp.configured:
        raise MahnwerkError(f"stage {stage} sends by e-mail but [smtp] is not configured in {shop.source.name}")
    wanted = stage_channel if stage_channel in ("shop", "letter", "email") else "shop"
    if wanted in ("shop", "email") and not valid_email(claim.email):
        return Route("letter", no_email=True)
    return Route(wanted, no_email=False)


def carries_letter(shop: ShopConfig, channel: str) -> bool:
    """A letter goes out by post, attached to the mail, or attached to the shop's message, as configured."""
    return channel == "letter" or (channel == "email" and shop.smtp.attach_letter) or \
        (channel == "shop" and shop_attaches(shop))


def compose(shop: ShopConfig, claim: Claim, result: Assessment, templates: Templates, *, channel: str,
            letter_anyway: bool = False) -> Composed:
    """The claim's next notice (`result.next` with its balance) rendered for `channel`; with its letter when the
    channel carries one, or `letter_anyway` (a preview shows how the notice reads on paper too)."""
    notice = build_notice(shop, claim, result)
    rendered = templates.render(notice)
    letter = None
    if letter_anyway or carries_letter(shop, channel):
        letter = letter_content(notice, templates.render(notice, letter=True), girocode=shop.letters.girocode)
    return Composed(notice, rendered, letter)
