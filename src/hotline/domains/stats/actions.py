"""Writes of statistics: counting contact history into interval rows as it is written, the
rebuild from `contact_events`, pruning one-minute rows past their retention, and publishing
changed live rows on the event stream.

`count_history` runs inside the routing transaction that appends the history entries (hooked
into `routing.actions.record` and the contacts domain's single-entry history writes), so an
interval row commits with the contact events that cause it, or not at all.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from hotline.core.events import Event
from hotline.domains.contacts.model import ContactRecord, HistoryEntry
from hotline.domains.routing.engine import RoutingEngine
from hotline.domains.routing.ports import RoutingTx
from hotline.domains.routing.queries import engine_has_queue
from hotline.domains.stats import queries
from hotline.domains.stats.model import (
    FACT_TYPES,
    ContactFacts,
    Dimension,
    fold_new,
    reduce_all,
    replay,
)
from hotline.domains.stats.ports import StatsTx

PERMISSION = "stats:read"
QUEUE_EVENT = "stats.queue"
AGENT_EVENT = "stats.agent"


def count_history(
    tx: StatsTx,
    entries: Sequence[HistoryEntry],
    *,
    engine: RoutingEngine | None = None,
    rows: Iterable[ContactRecord] = (),
) -> list[HistoryEntry]:
    """Count the facts that `entries` (about to be appended, in order) add to the interval rows:
    each touched contact's state (remembered from its last write, else replayed from its
    stored history), the reducer, one upsert for the touched rows. Returns the entries to
    store: a `connected` entry gains `sl_seconds`, the queue's service-level target at that
    moment, so a rebuild judges it by the same target.

    `rows`: contact rows the caller holds (any version: the arrival facts never change), so
    their facts are not read again."""
    if engine is not None:
        entries = [_with_target(e, engine) for e in entries]
    relevant = [e for e in entries if e.type in FACT_TYPES]
    if not relevant:
        return list(entries)
    ids = sorted({e.contact_id for e in relevant})
    store = tx.stats
    memory = store.fold_memory
    folds = memory.recall(ids) if memory is not None else {}
    missing = [cid for cid in ids if cid not in folds]
    if missing:
        given = {r.id: r for r in rows}
        facts = {
            cid: ContactFacts(cid, r.arrived_at, r.entry_point_id, r.caller_area)
            for cid in missing
            if (r := given.get(cid)) is not None
        }
        unknown = [cid for cid in missing if cid not in facts]
        if unknown:
            facts.update(store.contact_facts(unknown))
        folds.update(replay(tx.stats_config, facts, store.stored_history(missing)))
    counts = fold_new(folds, relevant)
    if counts:
        store.add_counts(counts, tx.clock.now())
    if memory is not None:
        # Only what commits is remembered; until then (and for good if the transaction or
        # its after-commit work fails) these contacts are replayed from storage.
        memory.forget(ids)
        done = list(folds.values())
        tx.after_commit.append(lambda: memory.remember(done))
    return list(entries)


def _with_target(e: HistoryEntry, engine: RoutingEngine) -> HistoryEntry:
    if e.type != "connected" or e.queue_id is None or "sl_seconds" in e.data:
        return e
    if not engine_has_queue(engine, e.queue_id):
        return e
    target = engine.queue(e.queue_id).service_level_seconds
    return dataclasses.replace(e, data={**e.data, "sl_seconds": target})


def rebuild(tx: StatsTx, *, since: dt.datetime | None = None) -> int:
    """Recompute the interval rows from `contact_events` (contacts that arrived at or after
    `since`, or all) and replace those rows in this transaction. Returns the row count.
    Maintenance: needs `system:manage` over the whole organisation."""
    tx.actor.require_root("system:manage")
    config = tx.stats_config
    start = None if since is None else config.day_start(since)
    tx.stats.lock_for_rebuild()  # before reading: no live count may slip between read and write
    now = tx.clock.now()
    horizon = config.minute_horizon(now)
    rows = {
        key: counts
        for key, counts in reduce_all(config, tx.stats.histories_since(start)).items()
        if key[0] is not Dimension.queue_minute or key[2] >= horizon  # past retention
    }
    written = tx.stats.replace_counts(start, rows, now)
    tx.audit(
        "stats.rebuild",
        "stats",
        None,
        details={"since": None if start is None else start.isoformat(), "rows": written},
    )
    return written


def prune_minute_rows(tx: StatsTx) -> int:
    """Delete the one-minute queue rows older than the retention (`minute_retention_days`);
    the interval rows stay. Returns the count; an audit row when anything was deleted.
    Maintenance: needs `system:manage` over the whole organisation."""
    tx.actor.require_root("system:manage")
    before = tx.stats_config.minute_horizon(tx.clock.now())
    deleted = tx.stats.delete_minute_rows(before)
    if deleted:
        tx.audit(
            "stats.prune_minutes",
            "stats",
            None,
            details={"before": before.isoformat(), "rows": deleted},
        )
    return deleted


def publish(tx: RoutingTx) -> int:
    """Emit `stats.queue` / `stats.agent` events for every live row that differs (`as_of`
    aside) from the one last published, and remember the new rows. Run about once a second
    by the `stats.publish` job; returns the number of events."""
    now = tx.clock.now()
    config = tx.stats_config
    emitted = 0
    for kind, event_type, rows in (
        ("queue", QUEUE_EVENT, queries.queue_rows(tx.routing, tx.stats, tx.actor, config, now)),
        ("agent", AGENT_EVENT, queries.agent_rows(tx.routing, tx.stats, tx.actor, config, now)),
    ):
        before = tx.stats.published(kind)
        changed: dict[str, Mapping[str, Any]] = {}
        for row in rows:
            payload = queries.plain(row.row)
            old = before.get(row.id)
            if old is not None and _same(old, payload):
                continue
            changed[row.id] = payload
            tx.emit(
                Event(
                    type=event_type,
                    payload=payload,
                    permission=PERMISSION,
                    org_unit_path=row.org_unit_path,
                    object_type=event_type,
                    object_id=row.id,
                )
            )
        if changed:
            tx.stats.save_published(kind, changed, now)
            emitted += len(changed)
    return emitted


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return {k: v for k, v in a.items() if k != "as_of"} == {
        k: v for k, v in b.items() if k != "as_of"
    }
