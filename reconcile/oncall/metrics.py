"""On-call's gauges: figures computed from SQL by the refresher (`reconcile.oncall.refresh`),
never per scrape. Under `serve` every process records into the shared metrics folder; these
gauges are set by the on-call process alone (or by each HTTP worker when `[oncall] processes
= 0`), and `livemostrecent` shows the latest value a live process set."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge

from reconcile.oncall.views import State

STATES: tuple[State, ...] = ("ok", "slow", "silent", "failing")
AGE_BUCKETS = ("lt_15m", "15m_1h", "1h_6h", "6h_24h", "gt_24h")


class OncallMetrics:
    """The gauges, on the app's (or the role process's) registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        def gauge(name: str, text: str, labels: list[str]) -> Gauge:
            return Gauge(name, text, labels, registry=registry, multiprocess_mode="livemostrecent")

        self.provider_state = gauge(
            "dlrecon_provider_state",
            "1 for the provider key's current state in the window, 0 for the others",
            ["provider", "window", "state"],
        )
        self.callbacks_per_sent = gauge(
            "dlrecon_callbacks_per_sent",
            "Callbacks received per message sent in the window",
            ["provider", "window"],
        )
        self.usual_callbacks_per_sent = gauge(
            "dlrecon_usual_callbacks_per_sent",
            "The key's usual callbacks per message sent (its usual period)",
            ["provider"],
        )
        self.sent = gauge(
            "dlrecon_sent_messages", "Messages sent in the window", ["provider", "window"]
        )
        self.verification_failures = gauge(
            "dlrecon_verification_failures",
            "Callbacks refused or held for failed verification in the window",
            ["provider", "window"],
        )
        self.quarantine_rate = gauge(
            "dlrecon_quarantine_rate",
            "Callbacks quarantined per callback received in the window",
            ["provider", "window"],
        )
        self.orphan_rate = gauge(
            "dlrecon_orphan_rate",
            "Events still unmatched per callback received in the window",
            ["provider", "window"],
        )
        self.p95_to_final = gauge(
            "dlrecon_p95_to_final_seconds",
            "95th percentile of submit-to-final time of the window's messages",
            ["provider", "window"],
        )
        self.inbox_attention = gauge(
            "dlrecon_inbox_attention",
            "Inbox rows waiting for a person: quarantined (parse failed) or held (verification)",
            ["provider", "state"],
        )
        self.orphans = gauge(
            "dlrecon_orphan_events",
            "Events that match no registered message yet",
            ["provider"],
        )
        self.stuck = gauge(
            "dlrecon_stuck_messages",
            "Messages past their stuck threshold, by how long they have been open",
            ["provider", "age"],
        )
        self.open_findings = gauge(
            "dlrecon_open_findings",
            "Reconciliation findings open or acknowledged, by rule",
            ["rule"],
        )
        self.run_findings = gauge(
            "dlrecon_reconcile_last_run_findings",
            "Findings each rule found in the last finished reconciliation run",
            ["rule"],
        )
        self.run_seconds = gauge(
            "dlrecon_reconcile_last_run_duration_seconds",
            "How long the last finished reconciliation run took",
            [],
        )
        self.run_finished = gauge(
            "dlrecon_reconcile_last_run_finished_timestamp_seconds",
            "When the last reconciliation run finished (Unix time; 0: none yet)",
            [],
        )
        self.run_failed = gauge(
            "dlrecon_reconcile_last_run_failed",
            "1 when the last finished reconciliation run failed",
            [],
        )
        self.refreshed = gauge(
            "dlrecon_oncall_refreshed_timestamp_seconds",
            "When the on-call figures were last computed (Unix time)",
            [],
        )
        self.refresh_failed = gauge(
            "dlrecon_oncall_refresh_failed",
            "1 when the last refresh of the on-call figures failed (database unreachable...)",
            [],
        )
