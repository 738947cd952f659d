"""Audit: the tamper-evident operation log (R-E2)."""
