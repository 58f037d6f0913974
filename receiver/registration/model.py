"""What the sending system registers (`MessageIn`) and the outcome of one item (`ItemResult`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from receiver.model import Channel
from receiver.views import Money


class MessageIn(BaseModel):
    """One registered message, as the sending system describes it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    provider: str = Field(min_length=1)
    channel: Channel = Channel.SMS
    client_ref: str | None = Field(default=None, max_length=256)
    provider_message_ids: list[str] = Field(default_factory=list, max_length=255)
    destination: str | None = Field(default=None, max_length=64)
    submitted_at: datetime | None = None
    text: str | None = Field(default=None, max_length=65536)
    segments: int | None = Field(default=None, ge=1, le=255)
    value: Money | None = Field(default=None, ge=0, max_digits=20, decimal_places=8)
    cost: Money | None = Field(default=None, ge=0, max_digits=20, decimal_places=8)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    submit_response: Any = None
    submit_http_status: int | None = Field(default=None, ge=100, le=599)

    @field_validator("client_ref", "destination", "text", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("value", "cost", mode="before")
    @classmethod
    def _no_float_money(cls, value: Any) -> Any:
        if isinstance(value, float):
            raise ValueError("money must be a string or an exact decimal, not a float")
        return None if value == "" else value

    @field_validator("provider_message_ids")
    @classmethod
    def _ids(cls, value: list[str]) -> list[str]:
        cleaned = [v.strip() for v in value if v and v.strip()]
        return list(dict.fromkeys(cleaned))

    @field_validator("submitted_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    @model_validator(mode="after")
    def _currency_with_money(self) -> MessageIn:
        if (self.value is not None or self.cost is not None) and self.currency is None:
            raise ValueError("currency is required with value or cost")
        return self


@dataclass(frozen=True, slots=True)
class ItemResult:
    """The outcome of one registered item: a message id, or an error."""

    index: int
    message_id: int | None = None
    created: bool = False
    error: str | None = None
    warning: str | None = None


# pydantic's words where they name our classes or its own terms, in the sender's terms
_MESSAGES = {
    "model_type": "each message must be a JSON object with the message's fields",
    "dict_type": "each message must be a JSON object with the message's fields",
    "extra_forbidden": "not a field of a message (fields: {fields})",
    "string_pattern_mismatch": "{pattern_text}",
    "value_error": "{value_error}",
}
_PATTERNS = {"currency": "a three-letter ISO 4217 code in capitals, such as EUR"}


def describe_validation_error(exc: ValidationError) -> str:
    """One line naming each bad field and what was expected, in the sender's terms."""
    parts = []
    for error in exc.errors():
        key = ".".join(str(p) for p in error["loc"])
        template = _MESSAGES.get(error["type"])
        if template is None:
            text = error["msg"]
        else:
            text = template.format(
                fields=", ".join(MessageIn.model_fields),
                pattern_text=_PATTERNS.get(key, error["msg"]),
                value_error=error["msg"].removeprefix("Value error, "),
            )
        parts.append(f"{key}: {text}" if key else text)
    return "; ".join(parts)
