from importlib import resources

import sql


def test_migration_files_are_numbered_and_contiguous() -> None:
    migrations = sql.migrations()
    assert migrations, "no migrations found"
    versions = [m.version for m in migrations]
    every = list(range(1, versions[-1] + 1))
    assert versions == every
    for entry in resources.files("sql").joinpath("migrations").iterdir():
        if entry.name.endswith(".sql"):
            assert sql.MIGRATION_NAME.match(entry.name), entry.name


def test_named_queries_load_and_are_unique() -> None:
    queries = sql.queries()
    assert "insert_inbox_batch" in queries
    assert "refresh_message_status" in queries
    assert all(text.strip() for text in queries.values())
