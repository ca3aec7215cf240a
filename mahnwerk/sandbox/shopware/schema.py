"""The slice of Shopware's entity definitions the sandbox serves: fields, to-one and to-many associations per entity.

An entity's name is also its API alias (`order_transaction`), which is what `includes` and JSON:API types use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

_STAMPS = ("customFields", "createdAt", "updatedAt")
# JSON columns: a dotted path below them (`customFields.erp_id`, `amount.totalPrice`) is a valid filter/sort field.
JSON_FIELDS = frozenset({"customFields", "price", "amount", "config", "payload", "translated", "validationData",
                         "shippingCosts", "priceDefinition", "metaData", "vatIds", "privileges", "ruleIds"})


@dataclass(frozen=True)
class Entity:
    """One entity definition: its scalar fields and its associations (name -> referenced entity)."""

    name: str
    fields: tuple[str, ...]
    to_one: dict[str, str] = field(default_factory=dict)
    to_many: dict[str, str] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return name in self.fields or name in self.to_one or name in self.to_many

    def target(self, association: str) -> str | None:
        return self.to_one.get(association) or self.to_many.get(association)


def _entity(name: str, fields: str, to_one: dict[str, str] | None = None,
            to_many: dict[str, str] | None = None) -> Entity:
    return Entity(name, ("id", *fields.split(), *_STAMPS), to_one or {}, to_many or {})


ENTITIES = {e.name: e for e in [
    _entity("order", "versionId autoIncrement orderNumber billingAddressId billingAddressVersionId currencyId "
            "languageId salesChannelId orderDateTime orderDate price amountTotal amountNet positionPrice taxStatus "
            "shippingCosts shippingTotal currencyFactor deepLinkCode affiliateCode campaignCode customerComment "
            "source stateId ruleIds createdById updatedById",
            {"stateMachineState": "state_machine_state", "orderCustomer": "order_customer", "currency": "currency",
             "language": "language", "salesChannel": "sales_channel", "billingAddress": "order_address"},
            {"addresses": "order_address", "deliveries": "order_delivery", "lineItems": "order_line_item",
             "transactions": "order_transaction", "documents": "document", "tags": "tag"}),
    _entity("order_customer", "versionId orderId orderVersionId customerId email salutationId firstName lastName "
            "company title vatIds customerNumber remoteAddress",
            {"order": "order", "customer": "customer", "salutation": "salutation"}),
    _entity("order_address", "versionId countryId countryStateId orderId orderVersionId salutationId firstName "
            "lastName street zipcode city company department title vatId phoneNumber additionalAddressLine1 "
            "additionalAddressLine2 hash",
            {"country": "country", "countryState": "country_state", "order": "order", "salutation": "salutation"}),
    _entity("order_transaction", "versionId orderId orderVersionId paymentMethodId amount validationData stateId",
            {"order": "order", "paymentMethod": "payment_method", "stateMachineState": "state_machine_state"},
            {"captures": "order_transaction_capture"}),
    _entity("order_line_item", "versionId orderId orderVersionId identifier referencedId productId promotionId "
            "label description coverId quantity unitPrice totalPrice type payload priceDefinition price good "
            "removable stackable position states parentId", {"order": "order"}),
    _entity("order_delivery", "versionId orderId shippingOrderAddressId shippingMethodId stateId trackingCodes "
            "shippingDateEarliest shippingDateLatest shippingCosts", {"order": "order"}),
    _entity("state_machine_state", "technicalName name stateMachineId translated"),
    _entity("payment_method", "technicalName handlerIdentifier name distinguishableName description position "
            "active afterOrderEnabled availabilityRuleId mediaId pluginId translated"),
    _entity("currency", "factor symbol isoCode shortName name position decimalPrecision itemRounding "
            "totalRounding taxFreeFrom isSystemDefault translated"),
    _entity("language", "parentId localeId translationCodeId name active",
            {"locale": "locale", "translationCode": "locale"}),
    _entity("locale", "code name territory translated"),
    _entity("country", "name iso iso3 position active shippingAvailable taxFree companyTax vatIdRequired translated"),
    _entity("country_state", "countryId shortCode name position active translated"),
    _entity("document", "documentTypeId fileType referencedDocumentId orderId orderVersionId documentMediaFileId "
            "documentA11yMediaFileId config sent static deepLinkCode documentNumber",
            {"documentType": "document_type", "order": "order", "documentMediaFile": "media",
             "referencedDocument": "document"}),
    _entity("document_type", "technicalName name translated"),
    _entity("sales_channel", "typeId languageId currencyId paymentMethodId shippingMethodId countryId "
            "navigationCategoryId name shortName accessKey active maintenance translated"),
    _entity("media", "userId mediaFolderId mimeType fileExtension uploadedAt fileName fileSize metaData "
            "config title alt url path hasFile private translated"),
    _entity("integration", "label accessKey secretAccessKey lastUsageAt admin deletedAt", {},
            {"aclRoles": "acl_role"}),
    _entity("acl_role", "name description privileges deletedAt"),
    _entity("customer", "groupId customerNumber email firstName lastName company vatIds guest",
            {"group": "customer_group"}),
    _entity("customer_group", "name displayGross registrationActive translated"),
    _entity("salutation", "salutationKey displayName letterName translated"),
    _entity("tag", "name"),
    _entity("order_transaction_capture", "orderTransactionId stateId externalReference amount"),
]}
