"""Live statistics and the interval table (R-C2). See ADR 0008."""
