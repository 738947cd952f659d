"""HTTP routes of contacts: arrival from channel gateways (R-A7), the agent's handling (R-A4),
the caller's actions, supervision (R-C2), one contact with its history, a queue's line.

Writes run through the routing service (`rt.routing.execute`): one transaction under the
engine lock. A node that does not hold the routing lease answers 503. Callers' addresses are
masked except in `GET /api/contacts/{id}` for holders of `customer:read_pii` (audited).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from hotline.api.security import ActorDep, Problem, RuntimeDep, SecureRouter
from hotline.core.context import Actor
from hotline.domains.contacts import actions, queries
from hotline.domains.contacts.model import ContactRecord, ContactView, Direction, Lifecycle
from hotline.domains.routing.engine import RoutingEngine
from hotline.domains.routing.model import MAX_PRIORITY, Channel
from hotline.domains.routing.queries import access_queue
from hotline.infra.db.database import Tx
from hotline.infra.db.stores.contacts import SqlContactStore
from hotline.infra.db.stores.routing import SqlRoutingStore
from hotline.infra.runtime import Runtime

router = SecureRouter(prefix="/api", tags=["contacts"])

UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {
        "model": Problem,
        "content": {"application/problem+json": {}},
        "description": "This node does not route now (another node holds the routing lease, "
        "or the engine is being rebuilt); retry shortly",
    }
}

Id36 = Annotated[str, Field(min_length=1, max_length=36)]
Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_-]*$")]
Priority = Annotated[int, Field(ge=-MAX_PRIORITY, le=MAX_PRIORITY)]
Limit = Annotated[int, Query(ge=1, le=200)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- models --------------------------------------------------------------------------------
class ArrivalIn(Strict):
    """A non-voice contact arriving (voice arrives over SIP, through the media engine)."""

    channel: Literal["chat", "email", "sms", "social", "work_item"]
    address: Annotated[
        str, Field(min_length=1, max_length=100, description="the entry point's address")
    ]
    caller: Annotated[str, Field(max_length=200)] | None = None
    caller_area: Annotated[str, Field(max_length=100)] | None = None
    customer_id: Id36 | None = None
    priority: Priority = 0


class WrapUpIn(Strict):
    code: Code
    notes: Annotated[str, Field(max_length=2000)] | None = None


class TransferIn(Strict):
    """Exactly one of `queue_id` and `agent_id`."""

    queue_id: Id36 | None = None
    agent_id: Id36 | None = None


class MoveIn(Strict):
    queue_id: Id36
    keep_place: bool = True


class PriorityIn(Strict):
    priority: Priority


class CallbackIn(Strict):
    """A callback for the customer of your contact: now (no `due_at`) or at a time."""

    due_at: dt.datetime | None = Field(
        default=None,
        description="when to call back, with a time zone (future, within 7 days); "
        "absent: as soon as possible",
    )
    queue_id: Id36 | None = Field(default=None, description="default: the contact's queue")
    note: Annotated[str, Field(max_length=500)] | None = None


class CallbackCancelIn(Strict):
    """Call off a scheduled callback; `reason` goes into its history."""

    reason: Annotated[str, Field(max_length=200)] | None = None


class CallbackMoveIn(Strict):
    """Move a scheduled callback to another time (and, optionally, queue)."""

    due_at: dt.datetime = Field(
        description="the new time, with a time zone (future, within 7 days)",
    )
    queue_id: Id36 | None = Field(
        default=None, description="another queue that takes calls; default: its queue"
    )


CallbackIds = Annotated[
    list[Id36],
    Field(
        min_length=1,
        # the domain refuses more than CALLBACK_BATCH_MAX with its own key (the page says how
        # many are allowed); this bound only keeps absurd bodies out
        max_length=5 * actions.CALLBACK_BATCH_MAX,
        description="the scheduled callbacks (contact ids), each once, 1 to 100",
    ),
]


class CallbackBatchMoveIn(CallbackMoveIn):
    """Move several scheduled callbacks to the same time (and, optionally, queue) at once."""

    ids: CallbackIds


class CallbackBatchCancelIn(CallbackCancelIn):
    """Call off several scheduled callbacks at once; `reason` goes into each one's history."""

    ids: CallbackIds


class ContactOut(BaseModel):
    id: str
    channel: Channel
    direction: Direction
    status: Lifecycle
    entry_point_id: str | None
    address: str | None
    customer_id: str | None
    caller: str | None
    caller_area: str | None
    queue_id: str | None
    priority: int
    callback: bool
    agent_id: str | None
    arrived_at: dt.datetime
    queued_at: dt.datetime | None
    offered_at: dt.datetime | None
    offer_deadline: dt.datetime | None
    answered_at: dt.datetime | None
    ended_at: dt.datetime | None
    finished_at: dt.datetime | None
    wrap_up_code: str | None
    wrap_up_notes: str | None
    masked: bool
    position: int | None = None
    callback_of: str | None = None
    callback_due_at: dt.datetime | None = None
    callback_note: str | None = None
    callback_requested_by: str | None = Field(
        default=None, description="in callback lists: the agent (user id) who scheduled it"
    )


class HistoryOut(BaseModel):
    id: int | None
    at: dt.datetime
    type: str
    queue_id: str | None
    agent_id: str | None
    data: dict[str, Any]


class ContactBatchOut(BaseModel):
    items: list[ContactOut] = Field(description="the callbacks, in the order of the ids given")


class ContactDetailOut(ContactOut):
    history: list[HistoryOut]


class ContactPage(BaseModel):
    items: list[ContactOut]
    next_after: str | None


class CallbackPage(BaseModel):
    items: list[ContactOut]
    next_after: str | None = Field(description="pass back as `after` for the next page")


def contact_out(view: ContactView) -> ContactOut:
    return ContactOut(
        id=view.id,
        channel=view.channel,
        direction=view.direction,
        status=view.status,
        entry_point_id=view.entry_point_id,
        address=view.address,
        customer_id=view.customer_id,
        caller=view.caller,
        caller_area=view.caller_area,
        queue_id=view.queue_id,
        priority=view.priority,
        callback=view.callback,
        agent_id=view.agent_id,
        arrived_at=view.arrived_at,
        queued_at=view.queued_at,
        offered_at=view.offered_at,
        offer_deadline=view.offer_deadline,
        answered_at=view.answered_at,
        ended_at=view.ended_at,
        finished_at=view.finished_at,
        wrap_up_code=view.wrap_up_code,
        wrap_up_notes=view.wrap_up_notes,
        masked=view.masked,
        position=view.position,
        callback_of=view.callback_of,
        callback_due_at=view.callback_due_at,
        callback_note=view.callback_note,
        callback_requested_by=view.callback_requested_by,
    )


def _run(
    rt: Runtime,
    actor: Actor,
    fn: Callable[[Tx, RoutingEngine], ContactRecord],
) -> ContactOut:
    """Run one contact action through the routing service; answer the masked contact."""

    def step(tx: Tx, engine: RoutingEngine) -> ContactOut:
        row = fn(tx, engine)
        return contact_out(queries.masked_view(row, tx.decrypt))

    return rt.routing.execute(actor, step)


def _run_batch(
    rt: Runtime,
    actor: Actor,
    fn: Callable[[Tx, RoutingEngine], list[ContactRecord]],
) -> ContactBatchOut:
    """`_run` for an action on several contacts: one transaction for all of them."""

    def step(tx: Tx, engine: RoutingEngine) -> ContactBatchOut:
        return ContactBatchOut(
            items=[contact_out(queries.masked_view(row, tx.decrypt)) for row in fn(tx, engine)]
        )

    return rt.routing.execute(actor, step)


async def _run_off_loop(
    rt: Runtime,
    actor: Actor,
    fn: Callable[[Tx, RoutingEngine], ContactRecord],
) -> ContactOut:
    """`_run` in a worker thread from an async route: a sync route would also validate its
    answer in a second worker thread (one hop fewer per contact write)."""
    return await run_in_threadpool(_run, rt, actor, fn)


def _contact_step(verb: str, permission: str, act: Callable[..., ContactRecord], doc: str) -> None:
    """Register `POST /api/contacts/{contact_id}/<verb>`: one contact action without a body."""

    async def handler(contact_id: str, actor: ActorDep, rt: RuntimeDep) -> ContactOut:
        return await _run_off_loop(
            rt, actor, lambda tx, engine: act(tx, engine, contact_id=contact_id)
        )

    handler.__name__ = handler.__qualname__ = f"contact_{verb}"
    handler.__doc__ = doc
    router.post(
        f"/contacts/{{contact_id}}/{verb}",
        permission=permission,
        response_model=ContactOut,
        responses=UNAVAILABLE,
    )(handler)


# --- arrival and the caller's side -----------------------------------------------------------
@router.post(
    "/contacts",
    permission="contact:route",
    response_model=ContactOut,
    status_code=201,
    responses=UNAVAILABLE,
)
async def arrive(body: ArrivalIn, actor: ActorDep, rt: RuntimeDep) -> ContactOut:
    """A chat, email, SMS, social message or work item arrives at an entry point: it is queued
    and, if a skilled agent has room, offered at once (the answer shows which)."""
    return await _run_off_loop(
        rt,
        actor,
        lambda tx, engine: actions.arrive(
            tx,
            engine,
            channel=Channel(body.channel),
            address=body.address,
            caller=body.caller,
            caller_area=body.caller_area,
            customer_id=body.customer_id,
            priority=body.priority,
        ),
    )


# --- the caller's side and the agent's side (no body) ----------------------------------------
_contact_step(
    "abandon",
    "contact:route",
    actions.abandon,
    "The caller hung up or left: abandoned if still waiting, ended if connected.",
)
_contact_step(
    "callback",
    "contact:route",
    actions.request_callback,
    "The caller chose a callback instead of waiting: it keeps its place in line.",
)
_contact_step("accept", "contact:handle", actions.accept, "Accept the contact offered to you.")
_contact_step(
    "decline",
    "contact:handle",
    actions.decline,
    "Decline the offer: the contact returns to its place; you go not ready (missed).",
)
_contact_step(
    "end",
    "contact:handle",
    actions.end,
    "End your connected contact; it then awaits its wrap-up code.",
)


@router.post(
    "/contacts/{contact_id}/wrap-up",
    permission="contact:handle",
    response_model=ContactOut,
    responses=UNAVAILABLE,
)
async def wrap_up(contact_id: str, body: WrapUpIn, actor: ActorDep, rt: RuntimeDep) -> ContactOut:
    """Code your ended contact; when it was the last one to code you become ready."""
    return await _run_off_loop(
        rt,
        actor,
        lambda tx, e: actions.wrap_up(
            tx, e, contact_id=contact_id, code=body.code, notes=body.notes
        ),
    )


@router.post(
    "/contacts/{contact_id}/transfer",
    permission="contact:handle",
    response_model=ContactOut,
    responses=UNAVAILABLE,
)
def transfer(contact_id: str, body: TransferIn, actor: ActorDep, rt: RuntimeDep) -> ContactOut:
    """Transfer your connected contact to a queue (keeping its place) or to an agent."""
    return _run(
        rt,
        actor,
        lambda tx, e: actions.transfer(
            tx, e, contact_id=contact_id, queue_id=body.queue_id, agent_id=body.agent_id
        ),
    )


@router.post(
    "/me/contacts/{contact_id}/callback",
    permission="contact:handle",
    response_model=ContactOut,
    status_code=201,
    responses=UNAVAILABLE,
)
def schedule_callback(
    contact_id: str, body: CallbackIn, actor: ActorDep, rt: RuntimeDep
) -> ContactOut:
    """Promise the customer of your connected contact (or one in wrap-up) a call back, now or
    at `due_at`: a new outbound voice contact, linked to this one, comes into the queue as a
    callback (until then it is `scheduled`). A connected contact ends (you go to wrap-up).
    Answers the callback contact."""
    return _run(
        rt,
        actor,
        lambda tx, e: actions.schedule_callback(
            tx,
            e,
            contact_id=contact_id,
            due_at=body.due_at,
            queue_id=body.queue_id,
            note=body.note,
        ),
    )


# --- scheduled callbacks: the agent's own, and a team lead's (预约回呼) -------------------------
CallbackAfter = Annotated[str | None, Query(max_length=80)]


def _callback_page(views: list[ContactView], limit: int) -> CallbackPage:
    more = len(views) > limit
    page = views[:limit]
    last = page[-1] if more and page else None
    return CallbackPage(
        items=[contact_out(v) for v in page],
        next_after=None if last is None else queries.callback_cursor(last),
    )


@router.get("/me/callbacks", permission="contact:handle", response_model=CallbackPage)
def my_callbacks(
    actor: ActorDep, rt: RuntimeDep, limit: Limit = 50, after: CallbackAfter = None
) -> CallbackPage:
    """The callbacks you scheduled that have not come in yet, by due time then id (caller
    masked). Pass `next_after` back as `after` for the next page."""
    with rt.db.read() as conn:
        views = queries.my_callbacks(
            SqlContactStore(conn), actor, rt.cipher.decrypt, limit=limit + 1, after=after
        )
    return _callback_page(views, limit)


@router.get("/callbacks", permission="contact:supervise", response_model=CallbackPage)
def supervised_callbacks(
    actor: ActorDep,
    rt: RuntimeDep,
    queue_id: Annotated[str | None, Query(min_length=1, max_length=36)] = None,
    status: Literal["scheduled"] = "scheduled",
    limit: Limit = 50,
    after: CallbackAfter = None,
    requested_by: Annotated[str | None, Query(min_length=1, max_length=36)] = None,
) -> CallbackPage:
    """Scheduled callbacks that have not come in yet, of one queue or of every queue in your
    scope (`contact:supervise`), by due time then id (caller masked); `requested_by` (an
    agent id) keeps those that agent promised. Pass `next_after` back as `after` for the next
    page. `status` is `scheduled` (the only one listed for now)."""
    with rt.db.read() as conn:
        if queue_id is not None:
            access_queue(SqlRoutingStore(conn), actor, queue_id, "contact:supervise")
        views = queries.supervised_callbacks(
            SqlContactStore(conn),
            actor,
            rt.cipher.decrypt,
            queue_id=queue_id,
            limit=limit + 1,
            after=after,
            requested_by=requested_by,
        )
    return _callback_page(views, limit)


def _callback_routes(prefix: str, permission: str, *, mine: bool) -> None:
    """Register `POST {prefix}/{contact_id}/cancel` and `…/move` for a scheduled callback."""
    whose = "you scheduled" if mine else "in your scope (team lead)"

    def cancel(
        contact_id: str, body: CallbackCancelIn, actor: ActorDep, rt: RuntimeDep
    ) -> ContactOut:
        return _run(
            rt,
            actor,
            lambda tx, e: actions.cancel_callback(
                tx, e, contact_id=contact_id, mine=mine, reason=body.reason
            ),
        )

    def move(contact_id: str, body: CallbackMoveIn, actor: ActorDep, rt: RuntimeDep) -> ContactOut:
        return _run(
            rt,
            actor,
            lambda tx, e: actions.move_callback(
                tx, e, contact_id=contact_id, mine=mine, due_at=body.due_at, queue_id=body.queue_id
            ),
        )

    name = "my" if mine else "supervised"
    cancel.__name__ = cancel.__qualname__ = f"cancel_{name}_callback"
    cancel.__doc__ = (
        f"Call off a scheduled callback {whose} before it comes in: it ends cancelled and "
        "its timer is cancelled. 409 once it has come in."
    )
    move.__name__ = move.__qualname__ = f"move_{name}_callback"
    move.__doc__ = (
        f"Move a scheduled callback {whose} to another time (future, within 7 days) and "
        "optionally another queue that takes calls. 409 once it is due."
    )
    for verb, handler in (("cancel", cancel), ("move", move)):
        router.post(
            f"{prefix}/{{contact_id}}/{verb}",
            permission=permission,
            response_model=ContactOut,
            responses=UNAVAILABLE,
        )(handler)


_callback_routes("/me/callbacks", "contact:handle", mine=True)
_callback_routes("/callbacks", "contact:supervise", mine=False)


@router.post(
    "/callbacks/move",
    permission="contact:supervise",
    response_model=ContactBatchOut,
    responses=UNAVAILABLE,
)
def move_supervised_callbacks(
    body: CallbackBatchMoveIn, actor: ActorDep, rt: RuntimeDep
) -> ContactBatchOut:
    """Move several scheduled callbacks in your scope (team lead) to the same time (future,
    within 7 days) and optionally another queue that takes calls, as one decision (批量改约):
    each as `POST /api/callbacks/{id}/move` would, its audit entry marked with the batch.
    All or nothing: if one is refused, the answer is that callback's problem (its id in
    `params.contact_id`) and none is moved."""
    return _run_batch(
        rt,
        actor,
        lambda tx, e: actions.move_callbacks(
            tx, e, contact_ids=body.ids, due_at=body.due_at, queue_id=body.queue_id
        ),
    )


@router.post(
    "/callbacks/cancel",
    permission="contact:supervise",
    response_model=ContactBatchOut,
    responses=UNAVAILABLE,
)
def cancel_supervised_callbacks(
    body: CallbackBatchCancelIn, actor: ActorDep, rt: RuntimeDep
) -> ContactBatchOut:
    """Call off several scheduled callbacks in your scope (team lead) as one decision
    (批量取消): each as `POST /api/callbacks/{id}/cancel` would, its audit entry marked with
    the batch. All or nothing: if one is refused, the answer is that callback's problem (its
    id in `params.contact_id`) and none is cancelled."""
    return _run_batch(
        rt,
        actor,
        lambda tx, e: actions.cancel_callbacks(tx, e, contact_ids=body.ids, reason=body.reason),
    )


# --- supervision -----------------------------------------------------------------------------
@router.post(
    "/contacts/{contact_id}/move",
    permission="contact:supervise",
    response_model=ContactOut,
    responses=UNAVAILABLE,
)
def move(contact_id: str, body: MoveIn, actor: ActorDep, rt: RuntimeDep) -> ContactOut:
    """Move a waiting contact to another queue (audited)."""
    return _run(
        rt,
        actor,
        lambda tx, e: actions.move(
            tx, e, contact_id=contact_id, queue_id=body.queue_id, keep_place=body.keep_place
        ),
    )


@router.post(
    "/contacts/{contact_id}/priority",
    permission="contact:supervise",
    response_model=ContactOut,
    responses=UNAVAILABLE,
)
def change_priority(
    contact_id: str, body: PriorityIn, actor: ActorDep, rt: RuntimeDep
) -> ContactOut:
    """Change a contact's priority (higher is served first; audited)."""
    return _run(
        rt,
        actor,
        lambda tx, e: actions.change_priority(tx, e, contact_id=contact_id, priority=body.priority),
    )


# --- reads -----------------------------------------------------------------------------------
@router.get(
    "/contacts",
    permission="contact:read",
    response_model=ContactPage,
    responses=UNAVAILABLE,
)
def waiting_line(
    actor: ActorDep,
    rt: RuntimeDep,
    queue_id: Annotated[str, Query(min_length=1, max_length=36)],
    limit: Limit = 50,
    after: Annotated[str | None, Query(max_length=36)] = None,
) -> ContactPage:
    """The contacts waiting in a queue, in line order (next to be served first, with their
    position), masked. Pass `next_after` back as `after` for the next page; 409 if that
    contact has left the line meanwhile (read again from the head)."""
    # The engine lock is never taken inside a transaction (the routing service takes it
    # first, then the transaction): read the line, then open the transaction.
    line = rt.routing.read(lambda engine: [c.id for c in engine.waiting(queue_id)])
    with rt.db.read() as conn:
        access_queue(SqlRoutingStore(conn), actor, queue_id, "contact:read")
        views, more = queries.line_page(
            SqlContactStore(conn), rt.cipher.decrypt, line, limit=limit, after=after
        )
    return ContactPage(
        items=[contact_out(v) for v in views], next_after=views[-1].id if more and views else None
    )


@router.get("/contacts/{contact_id}", permission="contact:read", response_model=ContactDetailOut)
def get_contact(contact_id: str, actor: ActorDep, rt: RuntimeDep) -> ContactDetailOut:
    """One contact with its history (oldest first). The caller's address is unmasked (and the
    read audited) for `customer:read_pii` over the queue's unit."""
    with rt.db.transaction(actor=actor) as tx:
        view = queries.get_contact(tx, contact_id)
    return _detail_out(view)


@router.get(
    "/me/contacts/{contact_id}", permission="contact:handle", response_model=ContactDetailOut
)
def get_my_contact(contact_id: str, actor: ActorDep, rt: RuntimeDep) -> ContactDetailOut:
    """A contact offered to you, in conversation with you or last handled by you, with its
    history (the agent desktop; masked as in `GET /api/contacts/{id}`)."""
    with rt.db.transaction(actor=actor) as tx:
        view = queries.get_my_contact(tx, contact_id)
    return _detail_out(view)


def _detail_out(view: ContactView) -> ContactDetailOut:
    return ContactDetailOut(
        **contact_out(view).model_dump(),
        history=[
            HistoryOut(
                id=h.id,
                at=h.at,
                type=h.type,
                queue_id=h.queue_id,
                agent_id=h.agent_id,
                data=dict(h.data),
            )
            for h in view.history
        ],
    )
