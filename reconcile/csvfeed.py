"""A CSV file read as COPY data for a staging table, without loading it whole.

Each record becomes one COPY row: its first line number, its field count, a reason when it
cannot be read at all (not UTF-8, a NUL character, broken quoting), then the wanted columns
in a fixed order (NULL for a missing or empty one). Everything else (is the amount a
decimal, is the date a date) is checked by set-based SQL over the staging table. Python's C
`csv` module reads and writes the records, so the per-record Python work is one small loop.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import IO

from receiver.errors import InvalidInput

_BLOCK = 1 << 20
_RECORDS_PER_CHUNK = 50_000
csv.field_size_limit(1 << 20)


class FileError(InvalidInput):
    """The file cannot be imported at all (no header, a required column missing...)."""


@dataclass(frozen=True, slots=True)
class Header:
    """The header line: the file's column names, and where each wanted field is (or None)."""

    names: tuple[str, ...]
    positions: tuple[int | None, ...]

    @property
    def width(self) -> int:
        return len(self.names)


def find_columns(
    names: Sequence[str], fields: Sequence[str], renamed: Mapping[str, str], required: Sequence[str]
) -> Header:
    """Where each field is among the header's names (a field named in `renamed` is looked for
    under that header), compared without case and surrounding blanks."""
    index: dict[str, int] = {}
    for i, name in enumerate(names):
        index.setdefault(name.strip().lower(), i)
    positions = tuple(index.get(renamed.get(f, f).strip().lower()) for f in fields)
    missing = [
        renamed.get(f, f)
        for f, p in zip(fields, positions, strict=True)
        if p is None and f in required
    ]
    if missing:
        raise FileError(
            f"column(s) {', '.join(missing)} not in the header (it has: {', '.join(names)})"
        )
    return Header(tuple(names), positions)


def _lines(
    handle: IO[bytes], encoding: str, label: str, bad: list[tuple[int, str]]
) -> Iterator[str]:
    """The file's lines as text; a line that is not valid text (or holds NUL, which Postgres
    cannot store) becomes an empty line, and its number and reason go into `bad`."""
    line_no = 0
    rest = b""
    while True:
        block = handle.read(_BLOCK)
        data = rest + block
        if not block:
            rest = b""
        else:
            cut = data.rfind(b"\n") + 1
            data, rest = data[:cut], data[cut:]
            if not data:
                rest = data + rest
                continue
        if data:
            try:
                text = data.decode(encoding)
                if "\x00" in text:
                    raise ValueError
                lines = text.splitlines(keepends=True)
            except ValueError:
                lines = []
                for raw in data.splitlines(keepends=True):
                    try:
                        line = raw.decode(encoding)
                    except UnicodeDecodeError:
                        bad.append((line_no + len(lines) + 1, f"not valid {label} text"))
                        line = "\n"
                    else:
                        if "\x00" in line:
                            bad.append((line_no + len(lines) + 1, "contains a NUL character"))
                            line = "\n"
                    lines.append(line)
            line_no += len(lines)
            yield from lines
        if not block:
            return


class Feed:
    """Reads `path` once: `header` first, then `chunks()` of COPY (CSV) data."""

    def __init__(
        self,
        path: Path,
        *,
        delimiter: str = ",",
        encoding: str = "utf-8",
        progress: Callable[[int], None] = lambda n: None,
        derive: tuple[int, Callable[[str], str]] | None = None,
    ) -> None:
        """`derive`: (i, f) adds a last column f(value) computed from the i-th field present."""
        self._handle = open(path, "rb")  # noqa: SIM115 (closed by close())
        self._bad: list[tuple[int, str]] = []
        self._progress = progress
        self._derive = derive
        text = _lines(
            self._handle, "utf-8-sig" if encoding == "utf-8" else encoding, encoding, self._bad
        )
        self._reader = csv.reader(text, delimiter=delimiter, strict=True)
        self._last_line = 0
        self._told = 0
        self.records = 0

    def set_derive(self, derive: tuple[int, Callable[[str], str]] | None) -> None:
        """(i, f): add a last column f(value) computed from the i-th field present."""
        self._derive = derive

    def close(self) -> None:
        self._handle.close()

    def header(self) -> list[str]:
        """The first non-blank record; FileError when the file has none."""
        for row in self._next_rows():
            if row and any(cell.strip() for cell in row):
                return row
        raise FileError("the file is empty: no header line")

    def _next_rows(self) -> Iterator[list[str]]:
        while True:
            try:
                row = next(self._reader)
            except StopIteration:
                return
            except csv.Error as exc:
                first = self._last_line + 1
                self._last_line = self._reader.line_num
                self._bad.append((first, f"cannot be read as CSV: {exc}"))
                continue
            self._first = self._last_line + 1
            self._last_line = self._reader.line_num
            yield row

    def chunks(self, header: Header) -> Iterator[bytes]:
        """COPY data in CSV: line_no, width, refusal, the fields the header has (in
        `header.positions` order, absent ones left out), then the derived column if any."""
        wanted = [p for p in header.positions if p is not None]
        pick = itemgetter(*wanted)
        single = len(wanted) == 1
        width = header.width
        derive = self._derive
        blank = (None,) * (len(wanted) + (derive is not None))
        rows = self._next_rows()
        while True:
            out: list[tuple[object, ...]] = []
            for row in itertools.islice(rows, _RECORDS_PER_CHUNK):
                if not row:
                    continue
                size = len(row)
                if size == width:
                    values = (pick(row),) if single else pick(row)
                else:
                    values = tuple(row[p] if p < size else None for p in wanted)
                if derive is not None:
                    source = values[derive[0]]
                    values = (*values, derive[1](source) if source else None)
                out.append((self._first, size, None, *values))
            bad, self._bad = self._bad, []
            out.extend((line, 0, reason, *blank) for line, reason in bad)
            if not out:
                return
            self.records += len(out)
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\n").writerows(out)
            yield buffer.getvalue().encode()
            position = self._handle.tell()
            self._progress(position - self._told)
            self._told = position
