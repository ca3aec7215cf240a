"""Entities as the Admin API prints them: plain JSON (`Accept: application/json`, JsonEntityEncoder) or JSON:API
(anything else, JsonApiEncoder). Unrequested associations are null; `includes` whitelists fields per API alias."""

from __future__ import annotations

from mahnwerk.sandbox.shopware.criteria import Criteria
from mahnwerk.sandbox.shopware.schema import ENTITIES
from mahnwerk.sandbox.shopware.search import sort_rows


def loaded_rows(rows: object, criteria: Criteria) -> list[dict]:
    """The rows of a to-many association after its own filter, sort, offset and limit."""
    found = [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
    if criteria.match is not None:
        found = [r for r in found if criteria.match(r, {})]
    if criteria.sort:
        found = sort_rows(found, criteria.sort)
    end = None if criteria.limit is None else criteria.offset + criteria.limit
    return found[criteria.offset:end]


def _wanted(entity: str, includes: dict[str, list[str]] | None) -> set[str] | None:
    return set(includes[entity]) if includes and entity in includes else None


def to_json(entity: str, row: dict, criteria: Criteria, includes: dict[str, list[str]] | None) -> dict:
    """One entity as JSON: its fields, the requested associations (nested), `apiAlias` always."""
    schema, wanted = ENTITIES[entity], _wanted(entity, includes)
    out: dict = {}
    for name in schema.fields:
        if wanted is None or name in wanted:
            value = row.get(name)
            out[name] = {} if name == "customFields" and value == [] else value
    for name, target in schema.to_one.items():
        if wanted is None or name in wanted:
            nested, value = criteria.associations.get(name), row.get(name)
            out[name] = to_json(target, value, nested, includes) if nested and isinstance(value, dict) else None
    for name, target in schema.to_many.items():
        if wanted is None or name in wanted:
            nested = criteria.associations.get(name)
            out[name] = None if nested is None else [to_json(target, r, nested, includes)
                                                     for r in loaded_rows(row.get(name), nested)]
    out["apiAlias"] = entity
    return out


def _dashed(entity: str) -> str:
    return entity.replace("_", "-")


def to_json_api(entity: str, rows: list[dict], criteria: Criteria, *, base_url: str, total: int,
                self_link: str) -> dict:
    """A JSON:API document: `data` resources with `attributes` and `relationships`, loaded associations `included`."""
    included: dict[tuple[str, str], dict] = {}
    data = [_resource(entity, row, criteria, criteria.includes, base_url, included) for row in rows]
    return {"data": data, "included": list(included.values()), "links": {"self": base_url + self_link},
            "meta": {"totalCountMode": criteria.count_mode, "total": total}, "aggregations": []}


def _resource(entity: str, row: dict, criteria: Criteria, includes: dict[str, list[str]] | None, base_url: str,
              included: dict[tuple[str, str], dict]) -> dict:
    schema, wanted = ENTITIES[entity], _wanted(entity, includes)
    own = f"{base_url}/api/{_dashed(entity)}/{row.get('id')}"
    attributes = {name: row.get(name) for name in schema.fields
                  if name != "id" and (wanted is None or name in wanted)}
    relationships: dict = {}
    for name, target in [*schema.to_one.items(), *schema.to_many.items()]:
        if wanted is not None and name not in wanted:
            continue
        nested, many = criteria.associations.get(name), name in schema.to_many
        link = {"related": f"{own}/{_dashed(name)}"}
        if nested is None:
            relationships[name] = {"data": [] if many else None, "links": link}
            continue
        value = row.get(name)
        targets = loaded_rows(value, nested) if many else [value] if isinstance(value, dict) else []
        for item in targets:
            included.setdefault((target, str(item.get("id"))),
                                _resource(target, item, nested, includes, base_url, included))
        refs = [{"type": target, "id": item.get("id")} for item in targets]
        relationships[name] = {"data": refs if many else (refs[0] if refs else None), "links": link}
    return {"id": row.get("id"), "type": entity, "attributes": attributes, "links": {"self": own},
            "relationships": relationships, "meta": None}
