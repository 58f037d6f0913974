"""`/v1/openapi.json`: the OpenAPI document of the /v1 API, written from the operations the
handlers declare (`api.operation`) and the pydantic models they answer with."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from receiver.http import api, auth, keys
from receiver.http.bodies import json_response
from receiver.settings import Scope

routes = web.RouteTableDef()

_ERROR_TEXTS = {
    400: "Invalid input",
    401: "Missing or invalid credentials",
    403: "Token lacks the scope",
    404: "Not found",
    409: "Conflict with the current state",
    413: "Body too large",
    500: "Internal error (nothing of it is disclosed)",
    503: "Database unavailable or overloaded; retry after Retry-After seconds",
}
_REF = "#/components/schemas/{model}"


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    """Every error answer: `{"error": {"code", "message", ...}}`."""

    error: ErrorDetail


class Document(BaseModel):
    """An OpenAPI document (its content is free-form JSON)."""


def _operations(router: web.UrlDispatcher) -> Iterable[tuple[str, str, api.Operation]]:
    for route in router.routes():
        resource = route.resource
        if resource is None or route.method == "HEAD":
            continue
        path = resource.canonical
        if not path.startswith("/v1"):
            continue
        described = api.operation_of(route.handler)
        if described is None:
            raise ValueError(f"{route.method} {path}: the handler has no api.operation()")
        yield path, route.method.lower(), described


def _models(operations: list[tuple[str, str, api.Operation]]) -> list[tuple[type[BaseModel], Any]]:
    """Every model the operations name: answers as they are serialised, requests as they are
    validated."""
    found: dict[type[BaseModel], Any] = {ErrorBody: "serialization"}
    for _, _, op in operations:
        if op.response is not None:
            found.setdefault(op.response, "serialization")
        requests = [*op.models, *([op.body] if isinstance(op.body, type) else [])]
        for model in requests:
            found.setdefault(model, "validation")
    return list(found.items())


def _error(status: int) -> dict[str, Any]:
    return {
        "description": _ERROR_TEXTS[status],
        "content": {"application/json": {"schema": {"$ref": _REF.format(model="ErrorBody")}}},
    }


def _json(model: type[BaseModel], description: str = "OK") -> dict[str, Any]:
    ref = {"$ref": _REF.format(model=model.__name__)}
    return {"description": description, "content": {"application/json": {"schema": ref}}}


def _parameters(op: api.Operation) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": kind}}
        for name, kind in op.path.items()
    ]
    if op.query is not None:
        schema = op.query.model_json_schema()
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            param: dict[str, Any] = {"name": name, "in": "query", "required": name in required}
            if "description" in prop:
                param["description"] = prop.pop("description")
            prop.pop("title", None)
            prop.pop("default", None)
            # a query parameter is absent or a value, never null
            options = [o for o in prop.pop("anyOf", [prop]) if o.get("type") != "null"]
            param["schema"] = options[0] if len(options) == 1 else {"anyOf": options}
            params.append(param)
    return params


def _operation(op: api.Operation) -> dict[str, Any]:
    scope = "" if op.scope == auth.PUBLIC else f"; scope {op.scope}"
    out: dict[str, Any] = {"summary": f"{op.summary}{scope}"}
    if params := _parameters(op):
        out["parameters"] = params
    if isinstance(op.body, type):
        out["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": _REF.format(model=op.body.__name__)}}
            },
        }
    elif op.body is not None:
        out["requestBody"] = dict(op.body)
    responses: dict[str, Any] = {}
    if op.response is not None:
        responses[str(op.status)] = _json(op.response)
    for status in sorted({*op.errors, 500}):
        responses[str(status)] = _error(status)
    responses.update(op.responses)
    out["responses"] = dict(sorted(responses.items()))
    out.update(op.extra)
    return out


def document(router: web.UrlDispatcher) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every /v1 route of `router`."""
    operations = sorted(_operations(router))
    _, schemas = models_json_schema(_models(operations), ref_template=_REF)
    paths: dict[str, dict[str, Any]] = {}
    for path, method, op in operations:
        paths.setdefault(path, {})[method] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "dlrecon",
            "version": "1",
            "description": "Delivery-report reconciliation. All /v1 routes except callbacks "
            "need a bearer token with the scope named in each operation.",
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas.get("$defs", {}),
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }


@routes.get("/v1/openapi.json")
@api.operation(scope=Scope.READ, summary="This document", response=Document, errors=(401, 403))
async def openapi(request: web.Request) -> web.Response:
    return json_response(request.app[keys.OPENAPI])
