"""Reconciliation (DESIGN.md): rate cards and provider invoices in, runs of SQL rules over what
the receiver wrote, findings with a lifecycle out. The receiver never imports it."""
