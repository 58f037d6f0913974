"""The schema (numbered migrations) and the named queries, as plain `.sql` files."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources

MIGRATION_NAME = re.compile(r"^(?P<version>\d{4})_(?P<slug>[a-z0-9_]+)\.sql$")
_QUERY_HEADER = re.compile(r"^--\s*name:\s*(?P<name>[a-z_][a-z0-9_]*)\s*$", re.MULTILINE)
RULE_NAME = re.compile(r"^(?P<name>[a-z][a-z0-9_]*)\.sql$")
# a rule's statement, after its leading comments: it adds the findings of a run
_RULE_STATEMENT = re.compile(
    r"\A(?:\s*--[^\n]*\n)*\s*INSERT\s+INTO\s+run_findings\b", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    """Every migration file, in version order. Raises on a badly named file."""
    found = []
    for entry in resources.files(__name__).joinpath("migrations").iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = MIGRATION_NAME.match(entry.name)
        if match is None:
            raise ValueError(f"migration file name does not match NNNN_slug.sql: {entry.name}")
        found.append(Migration(int(match["version"]), entry.name, entry.read_text()))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration versions: {versions}")
    return found


@functools.cache
def queries() -> dict[str, str]:
    """All named queries (`-- name: xyz` headers) of `queries/*.sql`."""
    result: dict[str, str] = {}
    folder = resources.files(__name__).joinpath("queries")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql"):
            continue
        text = entry.read_text()
        headers = list(_QUERY_HEADER.finditer(text))
        for i, header in enumerate(headers):
            end = headers[i + 1].start() if i + 1 < len(headers) else len(text)
            name = header["name"]
            if name in result:
                raise ValueError(f"duplicate query name {name!r} in {entry.name}")
            result[name] = text[header.end() : end].strip()
    return result


@dataclass(frozen=True, slots=True)
class Rule:
    """A reconciliation rule: `rules/<name>.sql`, one `INSERT INTO run_findings … SELECT`
    whose only parameter is the run id ($1)."""

    name: str
    sql: str


@functools.cache
def rules() -> dict[str, Rule]:
    """Every rule of `rules/*.sql`, by name (the file name), in name order. Raises on a badly
    named file or one that is not an insert into the run's findings."""
    found: dict[str, Rule] = {}
    folder = resources.files(__name__).joinpath("rules")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql"):
            continue
        match = RULE_NAME.match(entry.name)
        if match is None:
            raise ValueError(f"rule file name does not match name.sql: {entry.name}")
        text = entry.read_text()
        if not _RULE_STATEMENT.match(text):
            raise ValueError(f"rule {entry.name} must be one INSERT INTO run_findings … SELECT")
        found[match["name"]] = Rule(match["name"], text.strip())
    return found
