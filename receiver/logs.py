"""structlog wiring: JSON off a terminal, console on one; phone numbers masked, secrets redacted."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

# 8 or more digits, optionally after '+' or 'whatsapp:+': long enough to be a phone number
_PHONE = re.compile(r"(?<![\w.])(\+?)(\d{3,})(\d{4})(?!\d)")
_SECRET_KEYS = ("secret", "password", "token", "authorization", "signature", "api_key", "sig")


def mask_phone(text: str) -> str:
    """`+233241234567` → `+233*****4567`: enough to recognise, not enough to dial."""

    def _mask(match: re.Match[str]) -> str:
        plus, head, tail = match.groups()
        if len(head) + len(tail) < 8:
            return match.group(0)
        return f"{plus}{head[:3]}{'*' * (len(head) - 3)}{tail}"

    return _PHONE.sub(_mask, text)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return mask_phone(value)
    if isinstance(value, dict):
        return {k: "[redacted]" if _is_secret(k) else _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def _is_secret(key: object) -> bool:
    name = str(key).lower()
    return any(word in name for word in _SECRET_KEYS)


def scrub_processor(
    logger: Any, method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask phone numbers and redact secret-looking keys."""
    for key in list(event_dict):
        if _is_secret(key):
            event_dict[key] = "[redacted]"
        else:
            event_dict[key] = _scrub(event_dict[key])
    return event_dict


class _Stderr:
    """Whatever `sys.stderr` is at write time (test runners and daemons swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure(level: str = "info", fmt: str = "auto") -> None:
    """Configure structlog and the standard library logging once, at start-up."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    numeric = logging.getLevelNamesMapping()[level.upper()]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            # tracebacks are rendered first so that they are scrubbed too
            structlog.processors.format_exc_info,
            scrub_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=_Stderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=sys.stderr, force=True)
    # aiohttp's access log prints full query strings (phone numbers, tokens): we log our own
    logging.getLogger("aiohttp.access").disabled = True
