"""What a handler declares about itself: the scope it needs and, for /v1 routes, the models of
its request and answers, from which `openapi.document` writes the OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from receiver.errors import InvalidInput
from receiver.http import auth
from receiver.settings import Scope

_OPERATION_ATTR = "__dlrecon_operation__"
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Operation:
    """An HTTP operation as the OpenAPI document describes it."""

    scope: Scope | str
    summary: str
    # the JSON answer of `status` (None: no JSON body, or `responses` says what it is)
    response: type[BaseModel] | None = None
    status: int = 200
    # the JSON request body (a model), or an OpenAPI `requestBody` object as it is
    body: type[BaseModel] | Mapping[str, Any] | None = None
    # query parameters: a model whose fields are the parameters (see `query`)
    query: type[BaseModel] | None = None
    # path parameters and their JSON schema type ("integer", "string")
    path: Mapping[str, str] = field(default_factory=dict)
    # error statuses it may answer, each with the JSON error body
    errors: tuple[int, ...] = ()
    # OpenAPI response objects by status, taken as they are (other media types, alternatives)
    responses: Mapping[str, Any] = field(default_factory=dict)
    # other OpenAPI fields of the operation (e.g. `security: []` for callbacks)
    extra: Mapping[str, Any] = field(default_factory=dict)
    # request models that `body` or `responses` refer to by `#/components/schemas/<name>`
    models: tuple[type[BaseModel], ...] = ()


Handler = auth.Handler


def operation(
    *,
    scope: Scope | str,
    summary: str,
    response: type[BaseModel] | None = None,
    status: int = 200,
    body: type[BaseModel] | Mapping[str, Any] | None = None,
    query: type[BaseModel] | None = None,
    path: Mapping[str, str] | None = None,
    errors: tuple[int, ...] = (),
    responses: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    models: tuple[type[BaseModel], ...] = (),
) -> Callable[[Handler], Handler]:
    """Mark a handler with its scope (`auth.PUBLIC` for none) and how the API describes it."""
    described = Operation(
        scope=scope,
        summary=summary,
        response=response,
        status=status,
        body=body,
        query=query,
        path=path or {},
        errors=errors,
        responses=responses or {},
        extra=extra or {},
        models=models,
    )

    def mark(handler: Handler) -> Handler:
        setattr(handler, _OPERATION_ATTR, described)
        return auth.requires(scope)(handler)

    return mark


def operation_of(handler: Any) -> Operation | None:
    """What `operation` recorded on a handler (None for an undescribed one)."""
    found: Operation | None = getattr(handler, _OPERATION_ATTR, None)
    return found


def callback_operation() -> Callable[[Handler], Handler]:
    """The provider callback: no bearer token (each key verifies its own way)."""
    return operation(
        scope=auth.PUBLIC,
        summary="Provider delivery callback (verified per provider key, stored, acknowledged)",
        path={"provider": "string"},
        errors=(401, 404, 413, 503),
        responses={
            "200": {"description": "Stored (body as the provider expects, e.g. ACK/Jasmin)"}
        },
        extra={"security": []},
    )


def ref(model: type[BaseModel]) -> dict[str, str]:
    """A JSON schema reference to a model of the document's components."""
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def query(request: web.Request, model: type[M]) -> M:
    """The request's query parameters as `model`; `InvalidInput` naming each bad one."""
    # a field's alias is its parameter's name (the OpenAPI document names it so)
    names = {f.alias or n for n, f in model.model_fields.items()}
    values = {k: v for k, v in request.query.items() if k in names}
    if any("\x00" in v for v in values.values()):
        raise InvalidInput("query parameters must not contain NUL characters")
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'query'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInput(f"invalid query parameters: {problems}") from None
