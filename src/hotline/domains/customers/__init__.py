"""Customers: profiles with encrypted personal data (R-B1, R-E3, R-E4)."""
