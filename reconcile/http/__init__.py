"""The reconciliation's HTTP API: runs and findings (scope `finance`)."""
