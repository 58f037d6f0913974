"""Reconciliation: rules, runs, findings and finance reports (DESIGN.md). Not built yet;
it will read what the receiver writes, and the receiver never imports it."""
