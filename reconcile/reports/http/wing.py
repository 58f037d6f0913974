"""The reports wing: the finance report and the periods (it reads the reconciliation
configuration that the reconcile wing installs)."""

from __future__ import annotations

from receiver.http.wing import Wing
from reconcile.reports.http import periods, reports

WING = Wing(name="reports", routes=(reports.routes, periods.routes))
