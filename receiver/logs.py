"""structlog wiring: JSON off a terminal, console on one; phone numbers masked, secrets redacted."""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

# 8 or more digits, optionally after '+' or 'whatsapp:+': long enough to be a phone number. In
# URL-encoded text the '+' is '%2B' and a separator before it may be encoded too
# ('whatsapp%3A%2B...'), so an escape counts as a boundary, not as part of a word
_PHONE = re.compile(r"(?:(?<![\w.%])|(?<=%[0-9A-Fa-f]{2}))(\+|%2[Bb])?(\d{3,})(\d{4})(?!\d)")
_SECRET_KEYS = ("secret", "password", "token", "authorization", "signature", "api_key", "sig")


def mask_phone(text: str) -> str:
    """`+233241234567` → `+233*****4567`: enough to recognise, not enough to dial."""

    def _mask(match: re.Match[str]) -> str:
        plus, head, tail = match.groups()
        if len(head) + len(tail) < 8:
            return match.group(0)
        return f"{plus or ''}{head[:3]}{'*' * (len(head) - 3)}{tail}"

    return _PHONE.sub(_mask, text)


# a value quoted as Python's repr() quotes it
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'" + r'|"(?:[^"\\]|\\.)*"')


def reason_for_log(reason: str) -> str:
    """What went wrong, without the request's values: a quarantine or refusal reason up to its
    first ': ' (after which reasons quote what they found), quoted values replaced by '…'.
    The inbox row keeps the whole reason."""
    what = reason.split(": ", 1)[0]
    return _QUOTED.sub("'…'", what)


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


def write_line(line: str) -> None:
    """Write one record as a whole line with one write() to whatever `sys.stderr` is now (test
    runners and daemons swap it): records of processes sharing a file or a pipe never mix."""
    stream = sys.stderr
    data = line + "\n"
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # an in-memory stream (a test's capture)
        stream.write(data)
        stream.flush()
        return
    stream.flush()  # whatever was written through the stream before goes first
    encoded = data.encode("utf-8", "backslashreplace")
    while encoded:  # a pipe may take a long record in parts; a file takes it whole
        encoded = encoded[os.write(fd, encoded) :]


class _LineLogger:
    """structlog's output: each rendered record through `write_line`."""

    def msg(self, message: str) -> None:
        write_line(message)

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


class _LineHandler(logging.Handler):
    """The standard library's output (asyncpg, aiohttp...): each record formatted by structlog
    (`ProcessorFormatter`) and written through `write_line`."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            write_line(self.format(record))
        except Exception:
            self.handleError(record)


def configure(level: str = "info", fmt: str = "auto", *, cache: bool = False) -> None:
    """Configure structlog and the standard library logging once, at start-up: one renderer
    (JSON or console) for both, so that with JSON every line is one JSON object.

    `cache`: each module's logger is bound once, on its first use, instead of on every call
    (a filtered `debug` on the request path then costs a no-op call, not ~4 us of binding).
    Only for a process configured once for good (serve's workers and role processes): a
    logger bound before a later `configure` would keep the earlier configuration."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    numeric = logging.getLevelNamesMapping()[level.upper()]
    added: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # tracebacks are rendered first so that they are scrubbed too
    rendered: list[Any] = [structlog.processors.format_exc_info, scrub_processor, renderer]
    structlog.configure(
        processors=[*added, *rendered],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=lambda *args: _LineLogger(),
        cache_logger_on_first_use=cache,
    )
    handler = _LineHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*added, structlog.stdlib.add_logger_name],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *rendered],
        )
    )
    logging.basicConfig(level=max(numeric, logging.WARNING), handlers=[handler], force=True)
    # aiohttp's access log prints full query strings (phone numbers, tokens): we log our own
    logging.getLogger("aiohttp.access").disabled = True
