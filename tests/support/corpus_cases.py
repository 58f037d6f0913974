"""Every corpus callback example as a request (method, body, content type, query, headers),
for the tiers that send them through HTTP or through the stored-request round trip."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from receiver.model import RawRequest
from tests.support import corpus

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@dataclass
class Case:
    key: str
    method: str
    body: bytes = b""
    content_type: str = ""
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def raw(self) -> RawRequest:
        headers = {k.lower(): v for k, v in self.headers.items()}
        if self.content_type:
            headers["content-type"] = self.content_type
        return RawRequest(
            self.method,
            f"/v1/callbacks/{self.key}",
            tuple(self.query),
            headers,
            self.body,
            self.content_type,
            "127.0.0.1",
            urlencode(self.query),
        )


def examples(name: str) -> list[dict[str, Any]]:
    return corpus(name)["examples"]


def twilio_cases() -> list[tuple[str, Case]]:
    ex = examples("twilio")
    printed = dict(
        re.findall(r'"(\w+)": "([^"]*)"', ex[0]["body_verbatim"])
    )  # printed as "Key": "Value" lines
    cases = [("twilio-0-sent", Case("twilio", "POST", urlencode(printed).encode(), FORM))]
    for i in (2, 3):
        cases.append((f"twilio-{i}", Case("twilio", "POST", ex[i]["body_verbatim"].encode(), FORM)))
    return cases


def vonage_cases() -> list[tuple[str, Case]]:
    ex = examples("vonage")
    cases = [
        (f"vonage-{i}", Case("vonage", "POST", ex[i]["body_verbatim"].encode(), JSON))
        for i in (0, 1)
    ]
    for n, line in enumerate(ex[2]["body_verbatim"].splitlines()):
        cases.append((f"vonage-2-{n}", Case("vonage", "GET", query=parse_qsl(line))))
    return cases


def json_cases(name: str, key: str, indexes: range | list[int]) -> list[tuple[str, Case]]:
    ex = examples(name)
    return [
        (f"{key}-{i}", Case(key, "POST", ex[i]["body_verbatim"].encode(), JSON)) for i in indexes
    ]


def smpp_cases() -> list[tuple[str, Case]]:
    jasmin = examples("jasmin")[1]["body_verbatim"]
    cases = [("jasmin-1", Case("jasmin", "POST", jasmin.encode(), FORM))]
    for i, ex in enumerate(examples("smpp_dlr")):
        if ex["body_verbatim"]:
            query = [("type", "1"), ("ref", f"smpp-{i}"), ("answer", ex["body_verbatim"])]
            cases.append((f"kannel-smpp-{i}", Case("kannel", "GET", query=query)))
    return cases


CASES = [
    *twilio_cases(),
    *vonage_cases(),
    *json_cases("meta_whatsapp", "meta", range(len(examples("meta_whatsapp")))),
    *json_cases(
        "gupshup", "gupshup", range(5)
    ),  # the sixth is a URL template (unit-tested filled in)
    *json_cases("infobip", "infobip", [0]),  # the second is a bare status object, not a callback
    *smpp_cases(),
]
