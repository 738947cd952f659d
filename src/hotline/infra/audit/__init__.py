"""Audit log infrastructure: signed checkpoints and database verification (R-E2)."""
