"""`dlrecon_sms_segments` (the SQL the rules use) counts as `reconcile.segments` does."""

from __future__ import annotations

import random

import asyncpg

from reconcile import segments
from tests.unit.test_segments import GSM_DOUBLE, GSM_SINGLE

_OTHER = "çûыé😀🇧🇷中\x1b\u00a0\u2019"


def _texts(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    texts = ["", "a" * 160, "a" * 161, "a" * 152 + "€" + "a" * 10, "a" * 69 + "😀"]
    for _ in range(n):
        size = rng.choice([1, 10, 70, 71, 80, 153, 159, 160, 161, 200, 306, 307, 400])
        mostly_gsm = rng.random() < 0.7
        chars = []
        for _ in range(size):
            roll = rng.random()
            if mostly_gsm and roll < 0.9:
                chars.append(rng.choice(GSM_SINGLE))
            elif roll < 0.95:
                chars.append(rng.choice(GSM_DOUBLE))
            else:
                chars.append(rng.choice(_OTHER if not mostly_gsm or roll > 0.99 else GSM_SINGLE))
        texts.append("".join(chars))
    return texts


async def test_sql_counts_parts_and_encoding_as_python_does(conn: asyncpg.Connection) -> None:
    texts = _texts(20261201, 3000)
    rows = await conn.fetch(
        "SELECT t, dlrecon_sms_segments(t) AS parts, dlrecon_sms_encoding(t) AS encoding "
        "FROM unnest($1::text[]) WITH ORDINALITY AS u(t, n) ORDER BY n",
        texts,
    )
    wrong = []
    for text, row in zip(texts, rows, strict=True):
        expected = segments.count(text)
        if (row["parts"], row["encoding"]) != (expected.parts, expected.encoding.value):
            wrong.append((text, row["parts"], row["encoding"], expected))
    assert not wrong, wrong[:3]
    assert await conn.fetchval("SELECT dlrecon_sms_segments(NULL)") is None


async def test_every_gsm_character_is_gsm_in_sql(conn: asyncpg.Connection) -> None:
    single = await conn.fetch(
        "SELECT c, dlrecon_sms_encoding(c) AS e, dlrecon_sms_segments(repeat(c, 80)) AS p "
        "FROM unnest($1::text[]) AS c",
        list(GSM_SINGLE + GSM_DOUBLE),
    )
    assert {r["c"]: r["e"] for r in single} == dict.fromkeys(GSM_SINGLE + GSM_DOUBLE, "gsm7")
    # 80 characters: one part for a one-septet character, 160 septets for an escaped one
    assert {r["c"] for r in single if r["p"] == 1} == set(GSM_SINGLE + GSM_DOUBLE)
    doubled = await conn.fetch(
        "SELECT c, dlrecon_sms_segments(repeat(c, 81)) AS p FROM unnest($1::text[]) AS c",
        list(GSM_DOUBLE),
    )
    assert {r["p"] for r in doubled} == {2}
