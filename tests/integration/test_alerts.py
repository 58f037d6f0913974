"""docs/alerts.yml: valid Prometheus rules (promtool, when installed), and every metric they
name is one dlrecon's /metrics exposes."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess

import pytest
import yaml
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from dlrecon.settings import Settings
from tests.support import ROOT, make_settings

RULES = ROOT / "docs" / "alerts.yml"
_METRIC = re.compile(r"\b(dlrecon_[a-z0-9_]+)")


def _rules() -> list[dict]:
    data = yaml.safe_load(RULES.read_text())
    return [rule for group in data["groups"] for rule in group["rules"]]


def test_alert_rules_name_the_alerts_on_call_needs() -> None:
    names = {r["alert"] for r in _rules()}
    for needed in (
        "DlreconStuckGrowing",
        "DlreconProviderSilent",
        "DlreconProcessorLag",
        "DlreconQuarantineSpike",
        "DlreconVerificationFailures",
        "DlreconDatabaseUnreachable",
    ):
        assert needed in names
    runbook = (ROOT / "docs" / "oncall.md").read_text()
    for rule in _rules():
        anchor = rule["annotations"]["runbook"].split("#", 1)[1]
        assert f'<a id="{anchor}"></a>' in runbook, f"{rule['alert']}: no section {anchor}"


def test_promtool_accepts_the_rules() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian: apt-get install prometheus)")
    result = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def settings() -> Settings:
    return make_settings(oncall={"processes": 0, "refresh_every": "1s"})


async def test_every_metric_the_rules_name_is_on_metrics(client: TestClient) -> None:
    text = ""
    for _ in range(100):  # until the refresher has run once
        text = await (await client.get("/metrics")).text()
        if "dlrecon_oncall_refreshed_timestamp_seconds " in text:
            break
        await asyncio.sleep(0.1)
    exposed: set[str] = set()
    for family in text_string_to_metric_families(text):
        exposed.add(family.name)
        if family.type == "counter":
            exposed.add(f"{family.name}_total")
        exposed.update(s.name for s in family.samples)
    named = {m for rule in _rules() for m in _METRIC.findall(rule["expr"])}
    assert named, "the rules name no dlrecon metric"
    missing = sorted(named - exposed)
    assert not missing, f"metrics named in docs/alerts.yml but not on /metrics: {missing}"
