"""The routing service: the process's one routing engine, its lock, ticker and lease."""
