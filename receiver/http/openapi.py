"""`/v1/openapi.json`: the /v1 API description (a test keeps it in sync with the routes)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from receiver.http import auth
from receiver.http.bodies import json_response
from receiver.settings import Scope

routes = web.RouteTableDef()

_ERROR = {"$ref": "#/components/schemas/Error"}
_MONEY = {"type": ["string", "null"], "pattern": r"^-?\d+(\.\d+)?$"}


def _responses(ok: dict[str, Any], *codes: int) -> dict[str, Any]:
    out: dict[str, Any] = {"200": ok}
    texts = {
        400: "Invalid input",
        401: "Missing or invalid token",
        403: "Token lacks the scope",
        404: "Not found",
        413: "Body too large",
        503: "Database unavailable",
    }
    for code in codes:
        out[str(code)] = {
            "description": texts[code],
            "content": {"application/json": {"schema": _ERROR}},
        }
    return out


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_MESSAGE_IN = {
    "type": "object",
    "required": ["provider"],
    "additionalProperties": False,
    "properties": {
        "provider": {"type": "string", "description": "provider key from the configuration"},
        "channel": {"type": "string", "enum": ["sms", "whatsapp", "voice"]},
        "client_ref": {"type": ["string", "null"]},
        "provider_message_ids": {"type": "array", "items": {"type": "string"}},
        "destination": {"type": ["string", "null"]},
        "submitted_at": {"type": ["string", "null"], "format": "date-time"},
        "text": {"type": ["string", "null"]},
        "segments": {"type": ["integer", "null"], "minimum": 1},
        "value": _MONEY,
        "cost": _MONEY,
        "currency": {"type": ["string", "null"], "pattern": "^[A-Z]{3}$"},
        "submit_response": {"description": "the provider's raw submit response (JSON or string)"},
        "submit_http_status": {"type": ["integer", "null"]},
    },
}

_EVENT = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "source": {"type": "string", "enum": ["submit", "callback", "poll"]},
        "inbox_id": {"type": ["integer", "null"]},
        "provider_message_id": {"type": ["string", "null"]},
        "raw_message_id": {"type": ["string", "null"]},
        "client_ref": {"type": ["string", "null"]},
        "raw_status": {"type": "string"},
        "status": {"type": "string"},
        "error_code": {"type": ["string", "null"]},
        "error_class": {"type": ["string", "null"]},
        "retryable": {"type": ["boolean", "null"]},
        "description": {"type": ["string", "null"]},
        "provider_time": {"type": ["string", "null"], "format": "date-time"},
        "received_at": {"type": "string", "format": "date-time"},
        "cost": _MONEY,
        "currency": {"type": ["string", "null"]},
        "part_no": {"type": ["integer", "null"]},
        "details": {"type": "object"},
    },
}

_MESSAGE = {
    "type": "object",
    "required": ["id", "provider", "status", "final", "events"],
    "properties": {
        "id": {"type": "integer"},
        "provider": {"type": "string"},
        "channel": {"type": "string"},
        "client_ref": {"type": ["string", "null"]},
        "provider_message_ids": {"type": "array", "items": {"type": "string"}},
        "destination": {"type": ["string", "null"]},
        "submitted_at": {"type": ["string", "null"], "format": "date-time"},
        "registered_at": {"type": "string", "format": "date-time"},
        "segments": {"type": ["integer", "null"]},
        "status": {
            "type": "string",
            "enum": [
                "submitted",
                "accepted",
                "sent",
                "unknown",
                "delivered",
                "read",
                "failed",
                "expired",
                "rejected",
            ],
        },
        "final": {"type": "boolean"},
        "status_at": {"type": ["string", "null"], "format": "date-time"},
        "error": {"type": ["object", "null"]},
        "conflict": {"type": "boolean"},
        "value": _MONEY,
        "cost": _MONEY,
        "currency": {"type": ["string", "null"]},
        "provider_cost": _MONEY,
        "provider_currency": {"type": ["string", "null"]},
        "submit_http_status": {"type": ["integer", "null"]},
        "events": {"type": "array", "items": _EVENT},
    },
}

_REGISTERED = {
    "type": "object",
    "required": ["created", "existing", "errors", "results"],
    "properties": {
        "created": {"type": "integer", "minimum": 0},
        "existing": {"type": "integer", "minimum": 0},
        "errors": {"type": "integer", "minimum": 0},
        "results": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["index"],
                "properties": {
                    "index": {"type": "integer", "minimum": 0},
                    "error": {"type": "string"},
                    "message_id": {"type": "integer"},
                    "created": {"type": "boolean"},
                    "warning": {"type": "string"},
                },
            },
        },
    },
}

_CALLBACK = {
    "summary": "Provider delivery callback (verified per provider key, stored, acknowledged)",
    "security": [],
    "parameters": [
        {"name": "provider", "in": "path", "required": True, "schema": {"type": "string"}}
    ],
    "responses": {
        "200": {"description": "Stored (body as the provider expects, e.g. ACK/Jasmin)"},
        "401": {
            "description": "Verification failed",
            "content": {"application/json": {"schema": _ERROR}},
        },
        "404": {
            "description": "Unknown provider key",
            "content": {"application/json": {"schema": _ERROR}},
        },
        "413": {"description": "Body too large"},
        "503": {"description": "Database unavailable; retry after Retry-After seconds"},
    },
}

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "dlrecon",
        "version": "1",
        "description": "Delivery-report reconciliation. All /v1 routes except callbacks "
        "need a bearer token with the scope named in each operation.",
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {
                    "error": {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                    }
                },
            },
            "MessageIn": _MESSAGE_IN,
            "Registered": _REGISTERED,
            "Message": _MESSAGE,
        },
    },
    "security": [{"bearer": []}],
    "paths": {
        "/v1/callbacks/{provider}": {"get": _CALLBACK, "post": _CALLBACK},
        "/v1/messages": {
            "post": {
                "summary": "Register sent messages (object, array or NDJSON); scope send",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "oneOf": [
                                    {"$ref": "#/components/schemas/MessageIn"},
                                    {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/MessageIn"},
                                    },
                                ]
                            }
                        },
                        "application/x-ndjson": {"schema": {"type": "string"}},
                    },
                },
                "responses": {
                    **_responses(
                        _json({"$ref": "#/components/schemas/Registered"}), 401, 403, 413, 503
                    ),
                    "400": _json(
                        {
                            "oneOf": [
                                _ERROR,
                                {"$ref": "#/components/schemas/Registered"},
                            ]
                        },
                        "Invalid input: an error, or per-item results when every item failed",
                    ),
                },
            },
            "get": {
                "summary": "Find messages by provider id or client reference; scope read",
                "parameters": [
                    {"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
                    for n in ("provider", "provider_message_id", "client_ref")
                ],
                "responses": _responses(
                    _json(
                        {
                            "type": "object",
                            "properties": {
                                "messages": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Message"},
                                }
                            },
                        }
                    ),
                    400,
                    401,
                    403,
                    503,
                ),
            },
        },
        "/v1/messages/{id}": {
            "get": {
                "summary": "One message with its status and event timeline; scope read",
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
                ],
                "responses": _responses(
                    _json({"$ref": "#/components/schemas/Message"}), 401, 403, 404, 503
                ),
            },
        },
        "/v1/openapi.json": {
            "get": {
                "summary": "This document; scope read",
                "responses": _responses(_json({"type": "object"}), 401, 403),
            },
        },
    },
}


@routes.get("/v1/openapi.json")
@auth.requires(Scope.READ)
async def openapi(request: web.Request) -> web.Response:
    return json_response(SPEC)
