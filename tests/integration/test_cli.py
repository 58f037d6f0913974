"""The CLI against a real database: import, trace, replay, process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dlrecon.cli import cli

CONFIG = """
[api]
tokens = [{ token = "cli-test-token", scopes = ["admin"] }]
[providers.geniq]
verify = "off"
"""


@pytest.fixture
def run(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch):
    config = tmp_path / "dlrecon.toml"
    config.write_text(CONFIG)
    monkeypatch.setenv("DATABASE_URL", database_url)

    def invoke(*args: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(cli, ["--config", str(config), *args])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.stdout, result.stderr

    return invoke


def test_import_csv_keeps_good_rows_and_reports_bad_lines(tmp_path: Path, run) -> None:
    csv_file = tmp_path / "messages.csv"
    csv_file.write_text(
        "provider,channel,client_ref,provider_message_ids,destination,submitted_at,segments,value,cost,currency,text\n"
        "geniq,sms,r1,AA1|AA2,+6591234567,2026-11-01T10:00:00Z,2,0.05,0.02,SGD,hello\n"
        "geniq,sms,r2,BB1,+6591234568,2026-11-01T10:00:01Z,1,0.05,,SGD,hi\n"
        "nope,sms,r3,CC1,+6591234569,,,,,,\n"
        "geniq,fax,r4,DD1,,,,,,,\n"
        "geniq,sms,r5,EE1,,,,abc,,SGD,\n"
        "geniq,sms,r1,AA1|AA2,+6591234567,2026-11-01T10:00:00Z,2,0.05,0.02,SGD,hello\n"
    )
    code, out, err = run("import", "messages", str(csv_file))
    assert code == 1
    assert "6 rows: 2 created, 1 already registered, 3 rejected" in out
    assert f"{csv_file}:4: provider: unknown provider key 'nope'" in err
    assert f"{csv_file}:5: channel" in err
    assert f"{csv_file}:6: value" in err

    code, out, _ = run("trace", "--client-ref", "r1", "--format", "json")
    assert code == 0
    [view] = json.loads(out)
    assert view["provider_message_ids"] == ["AA1", "AA2"]
    assert view["segments"] == 2 and view["value"] == "0.05" and view["cost"] == "0.02"


def test_import_jsonl_with_a_broken_line(tmp_path: Path, run) -> None:
    jsonl = tmp_path / "messages.jsonl"
    jsonl.write_text(
        '{"provider": "geniq", "client_ref": "j1", "provider_message_ids": ["J1"]}\n'
        "{oops\n"
        '{"provider": "geniq", "client_ref": "j2"}\n'
        '{"provider": "geniq", "client_ref": "nul\\u0000"}\n'
        '{"provider": "geniq", "client_ref": "big", "segments": 1' + "0" * 5000 + "}\n"
    )
    code, out, err = run("import", "messages", str(jsonl))
    assert code == 1
    assert "5 rows: 2 created, 0 already registered, 3 rejected" in out
    assert f"{jsonl}:2: invalid JSON" in err
    assert f"{jsonl}:4: contains a NUL character" in err
    assert f"{jsonl}:5: invalid JSON" in err


def test_import_refuses_a_lone_surrogate_on_its_line(tmp_path: Path, run) -> None:
    """A lone surrogate (JSON "\\ud800") in a submit response cannot be stored: its row is
    reported on its line, the rows of its chunk are kept."""
    jsonl = tmp_path / "surrogate.jsonl"
    jsonl.write_text(
        '{"provider": "geniq", "client_ref": "su1", "provider_message_ids": ["SU1"]}\n'
        '{"provider": "geniq", "client_ref": "su2", "submit_response": {"reference": "\\ud800"}}\n'
        '{"provider": "geniq", "client_ref": "su3", "submit_response": {"responseCode": "0",'
        ' "messageIds": ["SU3"]}}\n'
    )
    code, out, err = run("import", "messages", str(jsonl))
    assert code == 1
    assert "3 rows: 2 created, 0 already registered, 1 rejected" in out
    assert f"{jsonl}:2: contains a lone surrogate" in err
    assert err.count(f"{jsonl}:") == 1
    for ref in ("su1", "su3"):
        code, out, _ = run("trace", "--client-ref", ref, "--format", "json")
        assert code == 0 and json.loads(out)[0]["client_ref"] == ref


def test_import_reports_true_line_numbers_and_is_idempotent(tmp_path: Path, run) -> None:
    csv_file = tmp_path / "messages.csv"
    csv_file.write_text(
        "provider,client_ref,provider_message_ids,destination,text\n"
        'geniq,k1,AB01|ab02,+4402012345678,"two\nlines"\n'
        "\n"
        "geniq,k3,K3,,nul\x00\n"
        "geniq,k4,K4,+6591234567, padded \n"
    )
    code, out, err = run("import", "messages", str(csv_file))
    assert code == 1
    assert "3 rows: 2 created, 0 already registered, 1 rejected" in out
    assert f"{csv_file}:5: contains a NUL character (\\u0000), which cannot be stored" in err
    assert err.count(f"{csv_file}:") == 1
    code, out, _ = run("trace", "--client-ref", "k1", "--format", "json")
    [view] = json.loads(out)
    assert view["destination"] == "+442012345678" and view["provider_message_ids"] == [
        "AB01",
        "AB02",
    ]
    assert view["status"] == "submitted" and view["status_at"] is not None

    code, out, _ = run("import", "messages", str(csv_file))
    assert "3 rows: 0 created, 2 already registered, 1 rejected" in out
    code, out, _ = run("trace", "--client-ref", "k1", "--format", "csv")
    assert out.count("\n") == 3  # header + one submit event per part, none added

    other = tmp_path / "other.jsonl"
    other.write_text(
        '{"provider": "geniq", "client_ref": "k2", "provider_message_ids": ["ab01"]}\n'
    )
    code, _, err = run("import", "messages", str(other))
    assert code == 1
    assert f"{other}:1: provider_message_ids: already registered to message " in err
    assert "with another client_ref" in err


def test_import_matches_callbacks_that_came_first(tmp_path: Path, run, database_url: str) -> None:
    import asyncio
    from datetime import UTC, datetime

    import asyncpg

    async def store_callback() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(
                "INSERT INTO inbox (provider_key, method, path, query, headers, body, verification,"
                " received_at) VALUES ('geniq', 'GET', '/v1/callbacks/geniq',"
                " 'messageId=C0FFEE01&status=delivered&reasonCode=0', '{}', '', 'unverified', $1)",
                datetime.now(UTC),
            )
        finally:
            await conn.close()

    asyncio.run(store_callback())
    assert run("process", "--once")[0] == 0  # an orphan: no message C0FFEE01 yet
    csv_file = tmp_path / "messages.csv"
    csv_file.write_text("provider,client_ref,provider_message_ids\ngeniq,o1,c0ffee01\n")
    code, out, _ = run("import", "messages", str(csv_file))
    assert code == 0 and "1 rows: 1 created" in out
    code, out, _ = run("trace", "--client-ref", "o1")
    assert "status: delivered (final)" in out


def test_trace_table_replay_and_process(tmp_path: Path, run, database_url: str) -> None:
    import asyncio
    from datetime import UTC, datetime

    import asyncpg

    jsonl = tmp_path / "m.jsonl"
    jsonl.write_text('{"provider": "geniq", "client_ref": "t1", "provider_message_ids": ["T1"]}\n')
    assert run("import", "messages", str(jsonl))[0] == 0

    async def store_callback() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(
                "INSERT INTO inbox (provider_key, method, path, query, headers, body, verification, received_at)"
                " VALUES ('geniq', 'GET', '/v1/callbacks/geniq', 'messageId=T1&status=delivered&reasonCode=0',"
                " '{}', '', 'unverified', $1)",
                datetime.now(UTC),
            )
        finally:
            await conn.close()

    asyncio.run(store_callback())
    code, out, _ = run("process", "--once")
    assert code == 0 and "processed 1 inbox rows" in out
    code, out, _ = run("trace", "--client-ref", "t1")
    assert code == 0
    assert "status: delivered (final)" in out
    assert "callback" in out and "submit" in out

    code, out, _ = run("replay")
    assert code == 0 and "released 1 inbox rows; processed 1" in out
    code, out, _ = run("trace", "--client-ref", "t1", "--format", "csv")
    assert out.count("\n") == 3  # header + submit + one callback: the replay added no duplicate

    code, _, err = run("trace", "--client-ref", "nope")
    assert code == 1 and "no such message" in err


def test_held_rows_are_processed_only_when_released(run, database_url: str) -> None:
    import asyncio
    from datetime import UTC, datetime

    import asyncpg

    async def sql(query: str, *args: object) -> object:
        conn = await asyncpg.connect(database_url)
        try:
            return await conn.fetchval(query, *args)
        finally:
            await conn.close()

    asyncio.run(
        sql(
            "INSERT INTO inbox (provider_key, method, path, query, headers, body, verification, received_at, state)"
            " VALUES ('geniq', 'GET', '/v1/callbacks/geniq', 'messageId=H1&status=delivered', '{}', '',"
            " 'failed', $1, 'held')",
            datetime.now(UTC),
        )
    )
    assert run("replay")[1].startswith("released 0 inbox rows")
    assert run("replay", "--quarantined")[1].startswith("released 0 inbox rows")
    assert asyncio.run(sql("SELECT count(*) FROM events")) == 0
    assert run("replay", "--release-held")[1].startswith("released 1 inbox rows; processed 1")
    assert asyncio.run(sql("SELECT count(*) FROM events")) == 1


def test_import_a_provider_id_shared_by_rows_of_one_file(tmp_path: Path, run) -> None:
    """Rows of one chunk sharing a provider id: the later one is the earlier row's message
    when it has no client ref of its own, and a conflict (reported on its line) when it has
    another one; the same as when the earlier row was imported before."""
    csv_file = tmp_path / "shared.csv"
    csv_file.write_text(
        "provider,client_ref,provider_message_ids\ngeniq,s1,SH01|SH02\ngeniq,s2,SH02\ngeniq,,SH01\n"
    )
    code, out, err = run("import", "messages", str(csv_file))
    assert code == 1
    assert "3 rows: 1 created, 1 already registered, 1 rejected" in out
    assert f"{csv_file}:3: provider_message_ids: already registered to message " in err
    code, out, _ = run("trace", "--client-ref", "s2", "--format", "json")
    assert code != 0 or "s2" not in out


HEADER = "provider,client_ref,provider_message_ids,destination,value,currency,text\n"


def test_a_csv_saved_by_excel_with_a_byte_order_mark_imports(tmp_path: Path, run) -> None:
    csv_file = tmp_path / "excel.csv"
    body = HEADER + "geniq,bom-1,BOM1,+6591234567,0.05,SGD,hello\n"
    csv_file.write_bytes(b"\xef\xbb\xbf" + body.encode())
    code, out, err = run("import", "messages", str(csv_file))
    assert code == 0 and "rejected" not in err and "Error" not in err, err
    assert "1 rows: 1 created, 0 already registered, 0 rejected" in out


def test_a_file_that_is_not_utf8_names_its_line_and_the_way_out(tmp_path: Path, run) -> None:
    csv_file = tmp_path / "latin1.csv"
    lines = HEADER + "geniq,l-1,L1,,,,plain\ngeniq,l-2,L2,,,,caf\u00e9\n"
    csv_file.write_bytes(lines.encode("latin-1"))
    code, out, err = run("import", "messages", str(csv_file))
    assert code == 1 and out == ""
    assert f"{csv_file}:3: not valid utf-8 text (byte 0xe9 at column " in err
    assert "--encoding latin-1" in err and "Traceback" not in err
    code, out, err = run("import", "messages", str(csv_file), "--encoding", "latin-1")
    assert code == 0, err
    assert "2 rows: 2 created" in out
    code, out, _ = run("trace", "--client-ref", "l-2", "--format", "json")
    assert code == 0 and json.loads(out)[0]["client_ref"] == "l-2"
    code, _, err = run("import", "messages", str(csv_file), "--encoding", "klingon")
    assert code == 2 and "unknown encoding 'klingon'" in err


def test_commands_print_their_data_and_only_problems_unless_verbose(tmp_path: Path, run) -> None:
    jsonl = tmp_path / "m.jsonl"
    jsonl.write_text('{"provider": "geniq", "client_ref": "q1", "provider_message_ids": ["Q1"]}\n')
    assert run("import", "messages", str(jsonl))[0] == 0
    code, out, err = run("trace", "--client-ref", "q1", "--format", "json")
    assert code == 0 and err == ""
    assert json.loads(out)[0]["provider_message_ids"] == ["Q1"]
    code, out, err = run("--verbose", "trace", "--client-ref", "q1", "--format", "json")
    assert code == 0 and json.loads(out)[0]["client_ref"] == "q1"


def test_replay_explains_its_counts(run, database_url: str) -> None:
    import asyncio
    from datetime import UTC, datetime

    import asyncpg

    async def sql(query: str, *args: object) -> object:
        conn = await asyncpg.connect(database_url)
        try:
            return await conn.fetchval(query, *args)
        finally:
            await conn.close()

    def store(query: str, state: str = "pending") -> None:
        asyncio.run(
            sql(
                "INSERT INTO inbox (provider_key, method, path, query, headers, body,"
                " verification, received_at, state)"
                " VALUES ('geniq', 'GET', '/v1/callbacks/geniq', $1, '{}', '', 'unverified', $2,"
                " $3)",
                query,
                datetime.now(UTC),
                state,
            )
        )

    store("messageId=R1&status=delivered&reasonCode=0")
    store("messageId=R2&status=delivered&reasonCode=0")
    store("status=delivered")  # quarantined: no message id
    assert run("process", "--once")[0] == 0
    store("messageId=R4&status=delivered&reasonCode=0")  # waiting when the replay starts

    code, out, _ = run("replay")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "released 3 inbox rows; processed 4"
    assert lines[1] == "  released, by the state they had: processed 2, quarantined 1"
    assert lines[2] == "  released, by the state they have now: processed 2, quarantined 1"
    assert "rows that were already waiting are included" in lines[3]
    assert lines[4].startswith("  0 new events; events already stored are dropped")
    assert "quarantined rows still fail to parse" in lines[5]


def test_replay_of_an_unknown_provider_key_is_an_error(run) -> None:
    code, out, err = run("replay", "--provider", "genqi")
    assert code == 2 and out == ""
    assert "no provider key 'genqi' in the configuration (keys: geniq)" in err
