"""The Admin API routes Mahnwerk's connector uses (docs/shopware6.md), answered like Shopware 6.6: route first,
then the bearer token, then the ACL privilege, then the request itself."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Iterator
from urllib.parse import parse_qsl

from mahnwerk.sandbox.provider_common import ProviderRequest, header
from mahnwerk.sandbox.shopware import catalog as C
from mahnwerk.sandbox.shopware import criteria as Q
from mahnwerk.sandbox.shopware import mail, transitions
from mahnwerk.sandbox.shopware.encoding import to_json, to_json_api
from mahnwerk.sandbox.shopware.schema import ENTITIES
from mahnwerk.sandbox.shopware.search import Table
from mahnwerk.sandbox.shopware.state import ShopwareSandbox
from mahnwerk.sandbox.shopware.wire import (
    JSON,
    JSON_API,
    ShopwareError,
    http_error,
    missing_privileges,
    no_content,
    not_found,
    reply,
)
from mahnwerk.sandbox.wire import Response

Handler = Callable[..., Response]
_ID = r"(?P<entity_id>[0-9a-fA-F]{32})"
SEARCHABLE = {"order": "order", "payment-method": "payment_method", "integration": "integration", "media": "media"}


def _body(request: ProviderRequest) -> dict:
    """The JSON (or form) body; Shopware's JsonRequestTransformerListener refuses malformed JSON."""
    if not request.body.strip():
        return {}
    content_type = header(request.headers, "Content-Type") or ""
    if "x-www-form-urlencoded" in content_type:
        return dict(parse_qsl(request.body.decode("utf-8", "replace")))
    try:
        data = json.loads(request.body)
    except ValueError:
        raise http_error(400, "0", "The JSON payload is malformed.") from None
    return data if isinstance(data, dict) else {"_list": data}


def _wants_json(request: ProviderRequest) -> bool:
    return JSON in (header(request.headers, "Accept") or "")


def _require(shop: ShopwareSandbox, privilege: str) -> None:
    if not shop.allows(privilege):
        raise missing_privileges([privilege])


def token(shop: ShopwareSandbox, request: ProviderRequest) -> Response:
    now = shop.clock().timestamp()
    with shop.lock:
        return reply(shop.tokens.grant(_body(request), shop.client_id, shop.client_secret, now))


def search(shop: ShopwareSandbox, request: ProviderRequest, entity_path: str) -> Response:
    entity = SEARCHABLE[entity_path]
    _require(shop, f"{entity}:read")
    criteria = Q.parse(entity, _body(request))
    # AclCriteriaValidator: every loaded association needs the read privilege of its entity, all named at once.
    missing = [p for p in dict.fromkeys(association_privileges(entity, criteria)) if not shop.allows(p)]
    if missing:
        raise missing_privileges(missing)
    with shop.lock:
        table = shop.table if entity == "order" else Table(_rows(shop, entity))
        rows, total = table.page(criteria, shop.shuffle)
        if _wants_json(request):
            data = [to_json(entity, row, criteria, criteria.includes) for row in rows]
            return reply({"total": total, "data": data, "aggregations": {}})
        return reply(to_json_api(entity, rows, criteria, base_url=request.base_url, total=total,
                                 self_link=request.path), content_type=JSON_API)


def association_privileges(entity: str, criteria: Q.Criteria) -> Iterator[str]:
    """`<entity>:read` of every association the criteria load, depth first."""
    for name, nested in criteria.associations.items():
        target = ENTITIES[entity].target(name)
        if target is not None:
            yield f"{target}:read"
            yield from association_privileges(target, nested)


def _rows(shop: ShopwareSandbox, entity: str) -> dict[str, dict]:
    if entity == "payment_method":
        return {str(m["id"]): m for m in C.PAYMENT_METHODS.values()}
    if entity == "integration":
        return {str(shop.integration["id"]): dict(shop.integration)}
    return dict(shop.media)


def _detail(request: ProviderRequest, entity: str, row: dict) -> Response:
    """createDetailResponse: {"data": entity} as JSON, or a JSON:API document."""
    empty = Q.Criteria(entity)
    if _wants_json(request):
        return reply({"data": to_json(entity, row, empty, None)})
    document = to_json_api(entity, [row], empty, base_url=request.base_url, total=1, self_link=request.path)
    return reply({"data": document["data"][0], "included": []}, content_type=JSON_API)


def _invalid_transaction(entity_id: str) -> ShopwareError:
    return http_error(400, "SYSTEM__STATE_MACHINE_INVALID_ENTITY_ID",
                      f'Unable to read entity "order_transaction" with id "{entity_id}".',
                      {"entityName": "order_transaction", "entityId": entity_id})


def allowed_transitions(shop: ShopwareSandbox, request: ProviderRequest, entity_id: str) -> Response:
    _require(shop, "order_transaction:read")
    with shop.lock:
        order = shop.transaction_order(entity_id)
        if order is None:
            raise _invalid_transaction(entity_id)
        transaction = next(t for t in order["transactions"] if t["id"] == entity_id)
        return reply(transitions.listing(transaction["stateMachineState"]["technicalName"], entity_id))


def transition(shop: ShopwareSandbox, request: ProviderRequest, entity_id: str, action: str) -> Response:
    _require(shop, "order_transaction:update")
    body = _body(request)
    with shop.lock:
        if shop.transaction_order(entity_id) is None:
            raise _invalid_transaction(entity_id)
        order, state, moved = shop.transition(entity_id, action)
        skip_flow = (header(request.headers, "sw-skip-trigger-flow") or "").lower() in ("1", "true")
        if moved and action == "remind" and body.get("sendMail", True) not in (False, 0, "0", "false") \
                and not skip_flow:
            attachments = _document_names(order, body.get("documentIds")) + _media_names(shop, body.get("mediaIds"))
            flow = mail.flow_mail(order, attachments)
            if flow is not None:
                shop.mails.append(flow)
    return _detail(request, "state_machine_state", state)


def _document_names(order: dict | None, ids: object) -> list[str]:
    wanted = ids if isinstance(ids, list) else []
    documents = (order or {}).get("documents") or []
    return [f"{d['documentType']['technicalName']}_{d.get('documentNumber') or d['config'].get('documentNumber')}.pdf"
            for d in documents if d["id"] in wanted]


def _media_names(shop: ShopwareSandbox, ids: object) -> list[str]:
    found = [shop.media.get(i) for i in (ids if isinstance(ids, list) else [])]
    return [f"{m['fileName']}.{m['fileExtension']}" for m in found if m is not None and m.get("fileName")]


def patch_order(shop: ShopwareSandbox, request: ProviderRequest, entity_id: str) -> Response:
    _require(shop, "order:update")
    body = _body(request)
    with shop.lock:
        if entity_id not in shop.orders:
            raise not_found("order", entity_id)
        fields = body.get("customFields")
        if fields is not None and not isinstance(fields, dict):
            raise http_error(400, "FRAMEWORK__WRITE_CONSTRAINT_VIOLATION", "This value should be of type array.",
                             pointer="/0/customFields")
        if fields:
            shop.merge_custom_fields(entity_id, fields)
    return no_content([("Location", f"{request.base_url}/api/order/{entity_id}")])


def create_media(shop: ShopwareSandbox, request: ProviderRequest) -> Response:
    _require(shop, "media:create")
    body = _body(request)
    media_id = str(body.get("id") or secrets.token_hex(16))
    now = shop.now()
    row: dict = {"id": media_id, "private": bool(body.get("private", False)), "fileName": None, "fileExtension": None,
           "mimeType": None, "fileSize": None, "uploadedAt": None, "hasFile": False, "title": body.get("title"),
           "alt": None, "url": "", "path": None, "metaData": None, "mediaFolderId": body.get("mediaFolderId"),
           "userId": None, "config": None, "customFields": None, "createdAt": now, "updatedAt": None,
           "translated": {"title": body.get("title"), "alt": None, "customFields": {}}, "content": b""}
    with shop.lock:
        shop.media[media_id] = row
    if any(k == "_response" for k, _ in request.query):
        return _detail(request, "media", row)
    return no_content([("Location", f"{request.base_url}/api/media/{media_id}")])


def upload_media(shop: ShopwareSandbox, request: ProviderRequest, entity_id: str) -> Response:
    _require(shop, "media:update")
    query = dict(request.query)
    name, extension = query.get("fileName", "").strip(), query.get("extension", "").strip()
    with shop.lock:
        row = shop.media.get(entity_id)
        if row is None:
            raise http_error(404, "CONTENT__MEDIA_NOT_FOUND", f"Media for id {entity_id} not found.",
                             {"mediaId": entity_id})
        if not extension:
            raise http_error(400, "CONTENT__MEDIA_MISSING_FILE_EXTENSION",
                             'No file extension provided. Please use the "extension" query parameter to specify the '
                             "extension of the uploaded file.")
        if not name:
            raise http_error(400, "CONTENT__MEDIA_EMPTY_FILE_NAME", "A valid filename must be provided.")
        if any(m["id"] != entity_id and m["fileName"] == name and m["fileExtension"] == extension
               for m in shop.media.values()):
            raise http_error(400, "CONTENT__MEDIA_DUPLICATED_FILE_NAME",
                             f'A file with the name "{name}.{extension}" already exists.',
                             {"fileName": name, "fileExtension": extension})
        now = shop.now()
        shop.media[entity_id] = {**row, "fileName": name, "fileExtension": extension, "hasFile": True,
                                 "mimeType": header(request.headers, "Content-Type"), "fileSize": len(request.body),
                                 "uploadedAt": now, "updatedAt": now, "content": request.body,
                                 "path": f"media/{entity_id[:2]}/{entity_id[2:4]}/{name}.{extension}"}
    return no_content([("Location", f"{request.base_url}/api/media/{entity_id}")])


def send_mail(shop: ShopwareSandbox, request: ProviderRequest) -> Response:
    _require(shop, "api_send_email")
    body = _body(request)
    mail.validate(body, {C.SALES_CHANNEL["id"]})
    template_data = body.get("mailTemplateData")
    order = template_data.get("order") if isinstance(template_data, dict) else None
    order_id = order.get("id") if isinstance(order, dict) else None
    with shop.lock:
        stored = shop.orders.get(order_id) if isinstance(order_id, str) else None
        attachments = _media_names(shop, body.get("mediaIds")) + _document_names(stored, body.get("documentIds"))
        composed = mail.compose(body, attachments, kind="api", order_id=order_id,
                                sales_channel_id=body.get("salesChannelId"))
        if composed is None:            # MailService logs the Twig error and returns null
            shop.mail_failures.append(str(body.get("subject")))
            return reply({"size": 0})
        shop.mails.append(composed)
    return reply({"size": mail.size(composed)})


def version(shop: ShopwareSandbox, request: ProviderRequest) -> Response:
    return reply({"version": "6.6.8.2"})


ROUTES: list[tuple[str, re.Pattern[str], Handler]] = [
    ("POST", re.compile(r"^/api/search/(?P<entity_path>order|payment-method|integration|media)$"), search),
    ("GET", re.compile(rf"^/api/_action/state-machine/order_transaction/{_ID}/state$"), allowed_transitions),
    ("POST", re.compile(rf"^/api/_action/(?:state-machine/)?order_transaction/{_ID}/state/(?P<action>\w+)$"),
     transition),
    ("PATCH", re.compile(rf"^/api/order/{_ID}$"), patch_order),
    ("POST", re.compile(r"^/api/media$"), create_media),
    ("POST", re.compile(rf"^/api/_action/media/{_ID}/upload$"), upload_media),
    ("POST", re.compile(r"^/api/_action/mail-template/send$"), send_mail),
    ("GET", re.compile(r"^/api/_info/version$"), version),
]


def dispatch(shop: ShopwareSandbox, request: ProviderRequest) -> Response:
    """Answer one request; every failure becomes Shopware's {"errors": [...]} body."""
    try:
        if request.path == "/api/oauth/token" and request.method == "POST":
            return token(shop, request)
        for method, pattern, handler in ROUTES:
            match = pattern.match(request.path)
            if match and method == request.method:
                with shop.lock:
                    shop.tokens.check(header(request.headers, "Authorization"), shop.clock().timestamp())
                return handler(shop, request, **match.groupdict())
        raise http_error(404 if not any(p.match(request.path) for _, p, _ in ROUTES) else 405, "0",
                         f'No route found for "{request.method} {request.base_url}{request.path}"')
    except ShopwareError as error:
        return error.response()
