"""The next notice of a claim, exactly as its customer will get it: the channel, the mail's subject, text and HTML,
and the PDF letter (`has_letter` says whether the customer gets it too, by post or attached; else it shows how the
notice reads on paper). Rendered by the executor's own function (sync/outbox/compose.py) for the day
the plan sends it; nothing is written and no shop or mail server is asked (`mahnwerk preview`, the web console)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from mahnwerk.errors import ConfigError, MahnwerkError
from mahnwerk.sync.casework.case import CaseError, open_case, order_ref, parse_claim_ref
from mahnwerk.sync.config import Config, ShopConfig
from mahnwerk.sync.config.delivery import missing_for_sending
from mahnwerk.sync.outbox.compose import carries_letter, compose, route
from mahnwerk.sync.outbox.templates import Templates
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.models import ClaimState


@dataclass(frozen=True)
class Preview:
    """The claim's next notice, or (`none`) why there is none; `pdf` is its letter (None: not rendered, or no
    notice), which the customer gets too when `has_letter`."""

    claim: str
    reason: str  # why this notice on that day, or why there is no notice
    none: str = ""  # why there is no notice, as a word: closed, nothing, not_a_notice, blocked, channel
    policy_reason: str = ""  # the policy's reason for its next step, as `plan` and `explain` give it
    stage: str | None = None
    channel: str | None = None
    on: date | None = None  # the day the plan sends it
    language: str = ""
    subject: str = ""
    text: str = ""
    html: str = ""
    pdf: bytes | None = None
    has_letter: bool = False  # the customer gets the letter too (by post, or attached to the mail or the message)
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def found(self) -> bool:
        """Whether there is a notice to show."""
        return not self.none

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready; the PDF is given by its size only."""
        return {"claim": self.claim, "none": self.none or None, "stage": self.stage, "channel": self.channel,
                "on": self.on.isoformat() if self.on else None, "reason": self.reason, "language": self.language,
                "subject": self.subject, "text": self.text, "html": self.html, "letter": self.has_letter,
                "pdf_bytes": len(self.pdf) if self.pdf is not None else None, "warnings": list(self.warnings)}


def shop_named(config: Config, shop: str, what: str) -> ShopConfig:
    """The configured shop; CaseError (exit 2), not ConfigError, for a mistyped one: a usage mistake."""
    try:
        return config.shop(shop)
    except ConfigError as exc:
        raise CaseError(f"{what}: {exc.problems[0].message}") from None


def preview_ref(store: Store, config: Config, ref: str, now: datetime, *, with_pdf: bool = True) -> Preview:
    """`preview_claim` for a claim named as people name it, SHOP:ORDER_NUMBER (`mahnwerk preview`)."""
    shop, _ = parse_claim_ref(ref)
    shop_named(config, shop, ref)
    with store.session() as session:
        order_id = open_case(session, config, ref, actor="", now=now).claim.order_id
    return preview_claim(store, config, shop, order_id, now, with_pdf=with_pdf)


def preview_claim(store: Store, config: Config, shop: str, order_id: str, now: datetime, *,
                  with_pdf: bool = True) -> Preview:
    """The notice the plan sends next for the claim on the shop's order `order_id`; `with_pdf` False leaves the
    letter unrendered (the slow part). CaseError (exit 2) for an unknown shop or claim."""
    shop_config = shop_named(config, shop, f"{shop}/{order_id}")
    with store.session() as session:  # read only: never committed
        key = order_ref(session, shop, order_id)
        case = open_case(session, config, key, actor="", now=now)
        claim = case.claim
        if claim.state != ClaimState.OPEN:
            return Preview(key, f"the claim is {claim.state}: no notice follows", "closed")
        result = case.assess()
        action = result.next
        if action is None or action.kind != "send":
            what = f"the next step is {action.kind} {action.stage}".rstrip() if action else "nothing is planned"
            return Preview(key, f"no notice to preview: {what} ({result.reason})",
                           "not_a_notice" if action else "nothing", result.reason)
        if result.next_balance is None:  # blocked: the notice needs interest that cannot be computed yet
            return Preview(key, f"no notice to preview yet: {result.reason}", "blocked", result.reason,
                           stage=action.stage, on=action.on)
        try:
            way = route(shop_config, claim, action.stage, action.channel or "shop")
        except MahnwerkError as exc:
            return Preview(key, str(exc), "channel", result.reason)
        composed = compose(shop_config, claim, result, Templates(config.config_dir / "templates"),
                           channel=way.channel, letter_anyway=with_pdf)
    warnings = [f"the customer has no usable e-mail address: the {action.stage} goes out as a letter to post"
                ] if way.no_email else []
    if missing := missing_for_sending(shop_config.merchant):
        warnings.append(f"[merchant] in {shop_config.source.name} lacks {', '.join(missing)}: `run` sends nothing "
                        "until it is filled in")
    rendered = composed.rendered
    return Preview(key, action.reason, policy_reason=action.reason, stage=action.stage, channel=way.channel,
                   on=action.on, language=composed.notice.language, subject=rendered.subject, text=rendered.text,
                   html=rendered.html, pdf=composed.pdf(shop_config) if with_pdf else None,
                   has_letter=carries_letter(shop_config, way.channel), warnings=tuple(warnings))
