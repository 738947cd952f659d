"""Durable jobs and timers (architecture §3.3): the SQL store, the worker loop, the registry.

Kept free of imports: `infra.db.database` imports `store` for `Tx.jobs`, and `worker` imports
`database`, so importing `worker` here would make that a cycle.
"""
