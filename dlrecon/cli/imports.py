"""The `dlrecon import` group (each area attaches its own kind of file: `import messages`...),
and what every import shares: the file's encoding, checked before anything is imported."""

from __future__ import annotations

import codecs
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

# "CSV UTF-8" as Excel writes it starts with a byte-order mark: read as if it had none
DEFAULT_ENCODING = "utf-8-sig"


@click.group("import")
def group() -> None:
    """Import files."""


def _known_encoding(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        return codecs.lookup(value).name if value != DEFAULT_ENCODING else value
    except LookupError:
        raise click.BadParameter(f"unknown encoding {value!r}") from None


def encoding_option(command: F) -> F:
    """`--encoding` for an import command."""
    return click.option(
        "--encoding",
        default=DEFAULT_ENCODING,
        show_default="UTF-8, with or without a byte-order mark",
        callback=_known_encoding,
        help="The file's text encoding, e.g. latin-1 or cp1252.",
    )(command)


def count_lines(file: Path, encoding: str) -> int:
    """The file's number of lines, once every line is known to decode with `encoding`; else one
    clear error naming the first line that does not (nothing is imported then)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    lines = 0
    with open(file, "rb") as handle:
        for lines, line in enumerate(handle, start=1):
            try:
                decoder.decode(line)
            except UnicodeDecodeError as exc:
                shown = "utf-8" if encoding == DEFAULT_ENCODING else encoding
                raise click.ClickException(
                    f"{file}:{lines}: not valid {shown} text (byte 0x{exc.object[exc.start]:02x}"
                    f" at column {exc.start + 1}); if the file is in another encoding, give it:"
                    " --encoding latin-1 (or cp1252, utf-16...)"
                ) from None
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise click.ClickException(
                f"{file}:{lines}: the file ends inside a character"
            ) from None
    return lines
