"""JSON Schema → the schema dialects Gemini accepts.

Gemini takes a tool's parameters (and a structured-output schema) in two forms:

- ``parametersJsonSchema`` / ``responseJsonSchema``: real JSON Schema (``$defs``/``$ref``,
  ``anyOf``, ``additionalProperties``, ``prefixItems`` …). Recent recordings send OpenAI-side
  schemas here unchanged, so :func:`to_json_schema` only removes ``$schema``.
- ``parameters`` / ``responseSchema``: Google's OpenAPI-3.0 subset (upper-case ``type``,
  ``nullable``, string ``enum`` only, no ``$ref``, no ``additionalProperties``).
  :func:`to_openapi_schema` rewrites a JSON Schema into it; older models only accept this one.

Both functions are pure: they return new dicts and never mutate their input.
"""

from __future__ import annotations

from typing import Any

# Keys Google's Schema message accepts; anything else makes the API reject the request.
_OPENAPI_KEYS = frozenset(
    {
        "type",
        "format",
        "title",
        "description",
        "nullable",
        "enum",
        "maxItems",
        "minItems",
        "properties",
        "required",
        "minProperties",
        "maxProperties",
        "minLength",
        "maxLength",
        "pattern",
        "example",
        "anyOf",
        "propertyOrdering",
        "default",
        "items",
        "minimum",
        "maximum",
    }
)

# Formats Gemini understands per type; other formats are moved into the description so the
# model still sees the constraint (the recorded requests do the same: "The date. (format: date)").
_FORMATS = {
    "string": frozenset({"enum", "date-time"}),
    "number": frozenset({"float", "double"}),
    "integer": frozenset({"int32", "int64"}),
}

# A self-referencing schema cannot be inlined forever; past this depth a ref becomes a plain object.
_MAX_REF_DEPTH = 4


def to_json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema for ``parametersJsonSchema`` / ``responseJsonSchema``."""
    return {k: v for k, v in schema.items() if k != "$schema"}


def to_openapi_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Rewrite a JSON Schema into Gemini's OpenAPI subset (``parameters`` / ``responseSchema``)."""
    defs: dict[str, Any] = {}
    for key in ("$defs", "definitions"):
        if isinstance(schema.get(key), dict):
            defs.update(schema[key])
    return _convert(schema, defs, {})


def _resolve(ref: str, defs: dict[str, Any]) -> dict[str, Any] | None:
    for prefix in ("#/$defs/", "#/definitions/"):
        if ref.startswith(prefix):
            target = defs.get(ref[len(prefix) :])
            return target if isinstance(target, dict) else None
    return None


def _convert(node: Any, defs: dict[str, Any], seen: dict[str, int]) -> dict[str, Any]:
    if not isinstance(node, dict):
        return {}
    ref = node.get("$ref")
    if isinstance(ref, str):
        target = _resolve(ref, defs)
        depth = seen.get(ref, 0)
        siblings = {k: v for k, v in node.items() if k not in ("$ref", "$defs", "definitions")}
        if target is None or depth >= _MAX_REF_DEPTH:
            out: dict[str, Any] = {"type": "OBJECT"}
            if siblings.get("description") or (target or {}).get("description"):
                out["description"] = siblings.get("description") or target.get("description")  # type: ignore[union-attr]
            return out
        merged = {**target, **siblings}
        return _convert(merged, defs, {**seen, ref: depth + 1})

    node = dict(node)
    # allOf with one member is how pydantic wraps a described $ref: merge it in.
    all_of = node.pop("allOf", None)
    if isinstance(all_of, list):
        for member in all_of:
            if isinstance(member, dict):
                resolved = _resolve(member["$ref"], defs) if "$ref" in member else member
                for key, value in (resolved or {}).items():
                    node.setdefault(key, value)
        if any(isinstance(m, dict) and "$ref" in m for m in all_of):
            return _convert(node, defs, seen)

    out = {}
    nullable = bool(node.get("nullable"))

    if "const" in node:
        node["enum"] = [node["const"]]

    json_type = node.get("type")
    if isinstance(json_type, list):
        types = [t for t in json_type if t != "null"]
        nullable = nullable or len(types) != len(json_type)
        if len(types) == 1:
            json_type = types[0]
        elif types:
            variants = [_convert({**node, "type": t}, defs, seen) for t in types]
            result: dict[str, Any] = {"anyOf": variants}
            if nullable:
                result["nullable"] = True
            if node.get("description"):
                result["description"] = node["description"]
            return result
        else:
            json_type = None

    variants_raw = node.get("anyOf") if isinstance(node.get("anyOf"), list) else node.get("oneOf")
    if isinstance(variants_raw, list):
        non_null = [v for v in variants_raw if not (isinstance(v, dict) and v.get("type") == "null")]
        nullable = nullable or len(non_null) != len(variants_raw)
        if len(non_null) == 1:
            # Optional[X]: X itself, nullable; keep the outer description/default/title.
            inner = _convert(non_null[0], defs, seen)
            for key in ("description", "title", "default"):
                if key in node and node[key] is not None:
                    inner[key] = node[key]
            if nullable:
                inner["nullable"] = True
            return inner
        out["anyOf"] = [_convert(v, defs, seen) for v in non_null]

    if isinstance(json_type, str):
        out["type"] = json_type.upper()

    enum = node.get("enum")
    if isinstance(enum, list):
        values = [v for v in enum if v is not None]
        nullable = nullable or len(values) != len(enum)
        # Gemini only accepts string enums; integer/float enums are sent as their string form.
        out["enum"] = [v if isinstance(v, str) else _enum_str(v) for v in values]
        out["type"] = "STRING"

    fmt = node.get("format")
    description = node.get("description")
    if isinstance(fmt, str):
        allowed = _FORMATS.get(json_type if isinstance(json_type, str) else "", frozenset())
        if fmt in allowed:
            out["format"] = fmt
        else:
            description = f"{description} (format: {fmt})" if description else f"Format: {fmt}"
    if description:
        out["description"] = description

    if isinstance(node.get("properties"), dict):
        out["properties"] = {name: _convert(sub, defs, seen) for name, sub in node["properties"].items()}
        out.setdefault("type", "OBJECT")
    if isinstance(node.get("items"), dict):
        out["items"] = _convert(node["items"], defs, seen)
    elif isinstance(node.get("prefixItems"), list) and node["prefixItems"]:
        # Tuples: the subset has no positional items; accept any of the member types.
        members = [_convert(v, defs, seen) for v in node["prefixItems"]]
        out["items"] = members[0] if len(members) == 1 else {"anyOf": members}

    for key in (
        "title",
        "required",
        "minItems",
        "maxItems",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "minProperties",
        "maxProperties",
        "propertyOrdering",
        "example",
        "default",
    ):
        if key in node and key in _OPENAPI_KEYS and node[key] is not None:
            out[key] = node[key]
    if nullable:
        out["nullable"] = True
    return out


def _enum_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
