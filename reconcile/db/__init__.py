"""The reconciliation's database layer: one small typed function per named query."""
