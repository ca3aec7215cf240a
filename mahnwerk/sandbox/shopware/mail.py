"""POST /api/_action/mail-template/send as MailActionController + MailService handle it, and the "payment
reminded" mail the shop's own flow sends on a `remind` transition."""

from __future__ import annotations

from mahnwerk.sandbox.shopware import twig
from mahnwerk.sandbox.shopware.wire import ShopwareError

NOT_BLANK = "c1051bb4-d103-4f74-8988-acbcafc7fdc3"          # Symfony NotBlank::IS_BLANK_ERROR
ENTITY_DOES_NOT_EXIST = "f1e5c873-5baf-4d5b-8ab7-e422bfce91f1"  # Shopware EntityExists::ENTITY_DOES_NOT_EXISTS
REQUIRED = ("recipients", "contentHtml", "contentPlain", "subject", "senderName")
SENDER = "shop@example.org"                                 # core.basicInformation.email
FLOW_SUBJECT = "Zahlungserinnerung zu Ihrer Bestellung {{ order.orderNumber }}"
FLOW_TEXT = ("Guten Tag {{ order.orderCustomer.firstName }} {{ order.orderCustomer.lastName }},\n"
             "zu Ihrer Bestellung {{ order.orderNumber }} ist noch eine Zahlung offen.")


def _php_value(value: object) -> str:
    """Symfony's formatValue() as the violation's {{ value }} parameter."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return "array"
    return f'"{value}"'


def validate(data: dict, sales_channels: set[str]) -> None:
    """The `mail_service.send` validation definition: NotBlank fields, an existing sales channel if one is given."""
    errors = []
    for name in REQUIRED:
        value = data.get(name)
        if value is None or value == "" or value == [] or value == {} or value is False:
            errors.append(_violation(name, NOT_BLANK, "This value should not be blank.",
                                     {"{{ value }}": _php_value(value)}))
    channel = data.get("salesChannelId")
    if channel is not None and channel not in sales_channels:
        errors.append(_violation("salesChannelId", ENTITY_DOES_NOT_EXIST,
                                 f'The "sales_channel" entity with id "{channel}" does not exist.',
                                 {"{{ primaryProperty }}": "id", "{{ id }}": f'"{channel}"',
                                  "{{ entity }}": '"sales_channel"'}))
    if errors:
        raise ShopwareError(400, errors)


def _violation(name: str, code: str, detail: str, parameters: dict) -> dict:
    return {"code": code, "status": "400", "title": "Constraint violation error", "detail": detail,
            "source": {"pointer": f"/{name}"}, "meta": {"parameters": parameters}}


def compose(data: dict, attachments: list[str], *, kind: str, order_id: str | None,
            sales_channel_id: str | None) -> dict | None:
    """The mail as recorded, rendered like MailService (HTML autoescaped, the rest not); None when Twig fails,
    which Shopware logs and answers with {"size": 0}."""
    template_data = data.get("mailTemplateData") or {}
    if not isinstance(template_data, dict):
        template_data = {}
    try:
        subject = twig.render(str(data["subject"]), template_data, autoescape=False)
        sender = twig.render(str(data["senderName"]), template_data, autoescape=False)
        html = twig.render(str(data["contentHtml"]), template_data, autoescape=True)
        text = twig.render(str(data["contentPlain"]), template_data, autoescape=False)
    except twig.TwigError:
        return None
    recipients = data["recipients"] if isinstance(data["recipients"], dict) else {}
    return {"kind": kind, "order_id": order_id, "recipients": dict(recipients), "subject": subject, "text": text,
            "html": html, "sender_name": sender,
            "sender_email": data.get("senderMail") or data.get("senderEmail") or SENDER,
            "sales_channel_id": sales_channel_id, "media": attachments, "template_data": template_data}


def size(mail: dict) -> int:
    """Length of a MIME message that carries the mail (what `{"size": n}` reports)."""
    head = f"From: {mail['sender_name']} <{mail['sender_email']}>\r\nTo: {mail['recipients']}\r\n" \
           f"Subject: {mail['subject']}\r\nMIME-Version: 1.0\r\n"
    return len(head) + len(mail["text"]) + len(mail["html"]) + 4000 * len(mail["media"]) + 400


def flow_mail(order: dict, attachments: list[str]) -> dict | None:
    """What the default "payment reminded" flow mails to the customer (template order_transaction.state.reminded)."""
    customer = order.get("orderCustomer") or {}
    if not customer.get("email"):
        return None
    name = f"{customer.get('firstName', '')} {customer.get('lastName', '')}".strip()
    data = {"recipients": {customer["email"]: name}, "subject": FLOW_SUBJECT, "senderName": "Mahnwerk Sandbox Shop",
            "contentPlain": FLOW_TEXT, "contentHtml": "<p>" + FLOW_TEXT.replace("\n", "<br>") + "</p>",
            "mailTemplateData": {"order": order}}
    mail = compose(data, attachments, kind="flow", order_id=order["id"], sales_channel_id=order.get("salesChannelId"))
    if mail is not None:
        mail["template_data"] = {"order": {"id": order["id"], "orderNumber": order.get("orderNumber")},
                                 "eventName": "state_enter.order_transaction.state.reminded"}
    return mail
