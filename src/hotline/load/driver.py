"""The load driver: simulated agents and callers against a running hotline, over HTTP only.

Each simulated agent signs in with its password once, trades the session for an API token
limited to what an agent desk needs (`agent:self`, `contact:handle`), and from then on is a
plain HTTP client: it listens for its offers on the event stream (or polls `/api/me/agent`),
accepts after a think time, handles, ends, codes the contact, goes ready again, and now and
then takes a break. Callers arrive through a gateway account (`contact:route`) as a Poisson
stream, give up after their patience (abandon) or ask for a callback. At the end a monitor
account (`contact:read`) reads the contacts back: nothing may be lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from hotline.load.plan import Entry, LoadPlan, OfferMode
from hotline.load.report import FINAL, ContactTrace, LoadReport, summarise

AGENT_SCOPES = ("agent:self", "contact:handle", "token:manage")
GATEWAY_SCOPES = ("contact:route", "token:manage")
_CONCURRENT_SIGN_INS = 8
_CONCURRENT_READS = 8


class LoadError(RuntimeError):
    """The run could not start (hotline unreachable, a sign-in refused, nothing to call)."""


@dataclass(frozen=True, slots=True)
class Token:
    username: str
    user_id: str
    id: str | None  # None: a session (the monitor's role may not hold API tokens)
    secret: str

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.secret}"}


# aiohttp, not httpx: a request costs its client ~0.12 ms of CPU instead of ~2.3 ms
# (bench/http_floor.py), and the driver shares the machine with the server it measures.
_STREAM_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=30.0, sock_connect=30.0)


def _session(url: str, *, connections: int = 0, timeout: float = 30.0) -> aiohttp.ClientSession:
    """A pooled client for `url` (`connections` 0: aiohttp's default limit)."""
    connector = aiohttp.TCPConnector(limit=connections) if connections else None
    return aiohttp.ClientSession(
        url, connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)
    )


class _Http:
    """One pooled client per role plus the run's tally of answers by request kind."""

    def __init__(self, url: str, *, connections: int) -> None:
        self.client = _session(url, connections=connections)
        self.tally: Counter[str] = Counter()
        self.races = 0
        self.transport = 0
        self.samples: list[str] = []

    async def call(
        self,
        kind: str,
        method: str,
        path: str,
        token: Token,
        body: Mapping[str, Any] | None = None,
        *,
        race: bool = False,
    ) -> tuple[int, Any]:
        """(status, JSON body or None). `race`: a 404/409 means the other side acted first
        (the caller hung up as the agent accepted…), which is expected and counted apart."""
        try:
            async with self.client.request(method, path, json=body, headers=token.headers) as r:
                code, raw = r.status, await r.read()
        except (TimeoutError, aiohttp.ClientError) as e:
            self.transport += 1
            self._sample(f"{kind}: {type(e).__name__}: {e}")
            return 0, None
        if race and code in (404, 409):
            self.races += 1
            self.tally[f"{kind} race"] += 1
        else:
            self.tally[f"{kind} {code // 100}xx"] += 1
            if code >= 400:
                self._sample(f"{kind} {code}: {raw[:200].decode(errors='replace')}")
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = None
        return code, data

    def _sample(self, text: str) -> None:
        if len(self.samples) < 10 and text not in self.samples:
            self.samples.append(text)

    async def close(self) -> None:
        await self.client.close()


async def wait_until_up(url: str, timeout: float = 30.0) -> None:
    """Wait for `/healthz` to answer (the demo starts the driver beside its own server)."""
    deadline = time.monotonic() + timeout
    async with _session(url, timeout=2.0) as c:
        while True:
            try:
                async with c.get("/healthz") as r:
                    if r.status == 200:
                        return
            except (TimeoutError, aiohttp.ClientError):
                pass
            if time.monotonic() > deadline:
                raise LoadError(f"hotline does not answer at {url}")
            await asyncio.sleep(0.2)


async def sign_in(
    url: str,
    username: str,
    password: str,
    scopes: tuple[str, ...] | None,
    *,
    name: str = "load",
    expires_at: dt.datetime | None = None,
) -> Token:
    """Password sign-in, then an API token with `scopes`; the session is ended at once (a
    token has no idle timeout, which a simulated desk running for hours needs). Without
    `scopes` the session itself is the token (used briefly, then signed out)."""
    async with _session(url) as c:
        async with c.post(
            "/api/auth/login", json={"username": username, "password": password}
        ) as r:
            if r.status != 200:
                text = (await r.text())[:200]
                raise LoadError(f"{username} cannot sign in: {r.status} {text}")
            signed_in = await r.json()
        secret = signed_in["token"]
        session = {"authorization": f"Bearer {secret}"}
        user_id = signed_in["user"]["id"]
        if scopes is None:
            return Token(username, user_id, None, secret)
        assert expires_at is not None
        async with c.post(
            "/api/me/tokens",
            json={"name": name, "scopes": list(scopes), "expires_at": expires_at.isoformat()},
            headers=session,
        ) as r:
            if r.status != 201:
                text = (await r.text())[:200]
                raise LoadError(f"{username} cannot get an API token: {r.status} {text}")
            token = await r.json()
        async with c.post("/api/auth/logout", headers=session):
            pass
    return Token(username, user_id, token["id"], token["token"])


class _Run:
    def __init__(
        self, plan: LoadPlan, stop: threading.Event | None, abort: threading.Event | None
    ) -> None:
        self.plan = plan
        self.stop = stop or threading.Event()
        self.abort = abort
        self.rng = random.Random(plan.seed)  # noqa: S311 - simulation, not secrets
        self.t0 = time.monotonic()
        self.traces: list[ContactTrace] = []
        self.by_id: dict[str, ContactTrace] = {}
        self.early_offers: dict[str, float] = {}  # offers seen before the arrival's answer
        self.answered: dict[str, asyncio.Event] = {}
        self.tasks: set[asyncio.Task[Any]] = set()
        self.max_lag = 0.0
        self.callers_waiting = 0
        n = len(plan.agents)
        self.agents_http = _Http(plan.url, connections=max(10, 2 * n))
        self.stream_http = _Http(plan.url, connections=n + 5)
        self.caller_http = _Http(plan.url, connections=100)
        self.entries: tuple[Entry, ...] = plan.entries
        self.codes: tuple[str, ...] = plan.wrap_up_codes
        self.sim_agents: list[_Agent] = []

    def now(self) -> float:
        return time.monotonic() - self.t0

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def answered_event(self, cid: str) -> asyncio.Event:
        ev = self.answered.get(cid)
        if ev is None:
            ev = self.answered[cid] = asyncio.Event()
        return ev

    def offer_seen(self, cid: str, at: float) -> None:
        trace = self.by_id.get(cid)
        if trace is None:
            self.early_offers.setdefault(cid, at)
        elif trace.t_offer_seen is None:
            trace.t_offer_seen = at

    # --- setup -----------------------------------------------------------------------------
    async def setup(self) -> None:
        plan = self.plan
        await wait_until_up(plan.url)
        horizon = plan.duration_seconds if math.isfinite(plan.duration_seconds) else 7 * 86400
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(
            seconds=min(horizon, 30 * 86400) + plan.drain_seconds + 3600
        )
        gate = asyncio.Semaphore(_CONCURRENT_SIGN_INS)

        async def one(username: str, scopes: tuple[str, ...]) -> Token:
            async with gate:
                return await sign_in(
                    plan.url,
                    username,
                    plan.password,
                    scopes,
                    name=plan.label,
                    expires_at=expires,
                )

        tokens = await asyncio.gather(
            one(plan.gateway, GATEWAY_SCOPES),
            *(one(a, AGENT_SCOPES) for a in plan.agents),
        )
        self.gateway = tokens[0]
        self.sim_agents = [
            _Agent(self, t, seat=f"LOAD-{i + 1:03d}", seed=plan.seed * 1000 + i)
            for i, t in enumerate(tokens[1:])
        ]
        self.monitor = await sign_in(plan.url, plan.monitor, plan.password, None)
        if not self.entries:
            items = await self._list("/api/entry-points")
            self.entries = tuple(
                Entry(e["channel"], e["address"])
                for e in items
                if e["active"] and e["channel"] != "voice"
            )
        if not self.entries:
            raise LoadError("no active non-voice entry point to send contacts to")
        if not self.codes:
            self.codes = tuple(c["code"] for c in await self._list("/api/wrap-up-codes"))
        if not self.codes:
            raise LoadError("no wrap-up code to code contacts with")
        await self.agents_http.call("setup", "POST", "/api/auth/logout", self.monitor)
        await asyncio.gather(*(a.start() for a in self.sim_agents))

    async def _list(self, path: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            query = f"{path}?limit=200" + (f"&after={after}" if after else "")
            code, body = await self.agents_http.call("setup", "GET", query, self.monitor)
            if code != 200:
                raise LoadError(f"cannot read {path}: {code}")
            items.extend(body["items"])
            after = body.get("next_after")
            if not after:
                return items

    # --- callers ---------------------------------------------------------------------------
    async def arrivals(self) -> None:
        plan = self.plan
        profile = plan.profile
        iv = profile.interval_seconds
        end = profile.duration_seconds
        weights = [e.weight for e in self.entries]
        t = 0.0
        n = 0
        while not self.stop.is_set():
            rate = profile.rate_at(t)
            boundary = (math.floor(t / iv) + 1) * iv
            if rate <= 0:
                t = boundary
                if t >= end:
                    break
                continue
            gap = self.rng.expovariate(rate)
            if t + gap >= boundary:  # memoryless: start the next interval at its own rate
                t = boundary
                if t >= end:
                    break
                continue
            t += gap
            if t >= end or (plan.max_contacts is not None and n >= plan.max_contacts):
                break
            delay = t - self.now()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                self.max_lag = max(self.max_lag, -delay)
            entry = self.rng.choices(self.entries, weights)[0]
            rng = random.Random(self.rng.getrandbits(64))  # noqa: S311
            # counted before the task first runs: a drain starting right after the last
            # arrival must wait for it
            self.callers_waiting += 1
            self.spawn(self.caller(n, entry, rng))
            n += 1

    async def caller(self, n: int, entry: Entry, rng: random.Random) -> None:
        try:
            await self._caller(n, entry, rng)
        finally:
            self.callers_waiting -= 1

    async def _caller(self, n: int, entry: Entry, rng: random.Random) -> None:
        plan = self.plan
        trace = ContactTrace(t_sent=self.now(), channel=entry.channel, address=entry.address)
        self.traces.append(trace)
        code, body = await self.caller_http.call(
            "arrive",
            "POST",
            "/api/contacts",
            self.gateway,
            {
                "channel": entry.channel,
                "address": entry.address,
                "caller": f"1380000{n % 10000:04d}",
            },
        )
        trace.t_answer = self.now()
        trace.arrive_status = code
        if code != 201:
            return
        cid = body["id"]
        trace.id = cid
        trace.note(body)
        self.by_id[cid] = trace
        early = self.early_offers.pop(cid, None)
        if early is not None:
            trace.t_offer_seen = early
        answered = self.answered_event(cid)
        patience = plan.patience.sampler(rng)()
        policy = plan.callback
        ask_callback = policy is not None and rng.random() < policy.probability
        wait = min(patience, policy.after_seconds) if ask_callback and policy else patience
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(answered.wait(), wait)
        if answered.is_set() or trace.status in FINAL:
            return
        if ask_callback and policy is not None and policy.after_seconds <= patience:
            code, body = await self.caller_http.call(
                "callback", "POST", f"/api/contacts/{cid}/callback", self.gateway, race=True
            )
            if code == 200:
                trace.callback = True
                trace.note(body)
            return
        code, body = await self.caller_http.call(
            "abandon", "POST", f"/api/contacts/{cid}/abandon", self.gateway, race=True
        )
        if code == 200:
            trace.note(body)
            if body["status"] == "abandoned":
                trace.abandoned = True
                trace.t_done = self.now()

    # --- the whole run ---------------------------------------------------------------------
    async def _watch_abort(self, main: asyncio.Task[Any] | None) -> None:
        while self.abort is not None and not self.abort.is_set():
            await asyncio.sleep(0.2)
        if main is not None and self.abort is not None:
            main.cancel()

    async def main(self) -> LoadReport:
        cpu0 = time.process_time()
        watcher = asyncio.ensure_future(self._watch_abort(asyncio.current_task()))
        try:
            await self.setup()
            start = self.now()
            self.t0 += start  # arrivals are scheduled from here
            await self.arrivals()
            arrival_seconds = self.now()
            await self.drain()
            run_seconds = self.now()
            idle = all(not a.active and not a.on_break for a in self.sim_agents)
            await self.stop_agents()
            verified, waiting = await self.verify(idle)
            return summarise(
                self.traces,
                offers=self.plan.offers.value,
                agents=len(self.sim_agents),
                target_rate=self.plan.profile.rate_at(0.0),
                arrival_seconds=arrival_seconds,
                run_seconds=run_seconds,
                http=self.agents_http.tally + self.caller_http.tally + self.stream_http.tally,
                races=self.agents_http.races + self.caller_http.races,
                transport_errors=self.agents_http.transport
                + self.caller_http.transport
                + self.stream_http.transport,
                max_lag_ms=self.max_lag * 1000,
                client_cpu_seconds=time.process_time() - cpu0,
                verified=verified,
                waiting_at_end=waiting,
                agents_idle=idle,
                samples=tuple(
                    self.agents_http.samples + self.caller_http.samples + self.stream_http.samples
                ),
            )
        finally:
            watcher.cancel()
            for task in list(self.tasks):
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            for h in (self.agents_http, self.stream_http, self.caller_http):
                await h.close()

    async def drain(self) -> None:
        """Let agents finish what is in flight: until every contact hotline accepted is final
        as the client saw it, or the drain time is up."""
        deadline = self.now() + self.plan.drain_seconds
        while self.now() < deadline and not self.stop.is_set():
            callers_done = self.callers_waiting == 0
            open_contacts = any(t.id is not None and t.status not in FINAL for t in self.traces)
            if callers_done and not open_contacts:
                return
            await asyncio.sleep(0.05)

    async def stop_agents(self) -> None:
        for a in self.sim_agents:
            a.stop()
        await asyncio.sleep(0)
        if self.plan.log_out_at_end:
            await asyncio.gather(*(a.log_out() for a in self.sim_agents))

    async def verify(self, idle: bool) -> tuple[int, int]:
        """Read contacts back as the monitor (all, or the unfinished ones and a sample), and
        count what still waits in the queues' lines."""
        # A fresh session: a long run outlasts the monitor's idle timeout.
        self.monitor = await sign_in(self.plan.url, self.plan.monitor, self.plan.password, None)
        created = [t for t in self.traces if t.id is not None]
        if self.plan.verify is None:
            chosen = created
        else:
            open_ = [t for t in created if t.status not in FINAL]
            done = [t for t in created if t.status in FINAL]
            k = min(len(done), self.plan.verify)
            chosen = open_ + random.Random(self.plan.seed).sample(done, k)  # noqa: S311
        gate = asyncio.Semaphore(_CONCURRENT_READS)

        async def read(t: ContactTrace) -> None:
            async with gate:
                code, body = await self.agents_http.call(
                    "verify", "GET", f"/api/contacts/{t.id}", self.monitor
                )
            t.verified_status = body["status"] if code == 200 else f"unreadable ({code})"

        await asyncio.gather(*(read(t) for t in chosen))
        waiting = 0
        ours = set(self.by_id)
        for q in await self._list("/api/queues"):
            code, body = await self.agents_http.call(
                "verify", "GET", f"/api/contacts?queue_id={q['id']}&limit=200", self.monitor
            )
            if code == 200:
                waiting += sum(1 for c in body["items"] if c["id"] in ours)
        for token in (self.gateway, *(a.token for a in self.sim_agents)):
            await self.agents_http.call("revoke", "DELETE", f"/api/me/tokens/{token.id}", token)
        await self.agents_http.call("verify", "POST", "/api/auth/logout", self.monitor)
        return len(chosen), waiting


class _Agent:
    """One simulated agent desk."""

    def __init__(self, run: _Run, token: Token, *, seat: str, seed: int) -> None:
        self.run = run
        self.token = token
        self.seat = seat
        self.rng = random.Random(seed)  # noqa: S311
        plan = run.plan
        self.think = plan.think.sampler(self.rng)
        self.handle_time = plan.handle.sampler(self.rng)
        self.break_time = plan.break_length.sampler(self.rng)
        self.active: dict[str, asyncio.Task[Any]] = {}
        self.handled: set[str] = set()
        self.on_break = False
        self.breaks: asyncio.Task[Any] | None = None
        self.recovering: asyncio.Task[Any] | None = None
        self.listener: asyncio.Task[Any] | None = None
        self.connected = asyncio.Event()
        self.last_event_id: str | None = None

    async def call(
        self,
        kind: str,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        race: bool = False,
    ) -> tuple[int, Any]:
        return await self.run.agents_http.call(kind, method, path, self.token, body, race=race)

    async def start(self) -> None:
        if self.run.plan.offers is OfferMode.stream:
            self.listener = self.run.spawn(self.listen())
            await asyncio.wait_for(self.connected.wait(), 30)
        code, me = await self.call("agent", "GET", "/api/me/agent")
        if code != 200:
            raise LoadError(f"{self.token.username} has no agent desk: {code}")
        if me["state"] == "logged_out":
            code, me = await self.call(
                "agent",
                "POST",
                "/api/me/agent",
                {"action": "login", "seat": self.seat, "ready": True},
            )
            if code != 200:
                raise LoadError(f"{self.token.username} cannot log in to routing: {code}")
        elif me["state"] != "ready":
            await self.call("agent", "POST", "/api/me/agent", {"action": "ready"})
        for w in me["work"]:  # left over from an earlier run that stopped mid-way
            self.dispatch(w["id"], w["status"])
        if self.run.plan.offers is OfferMode.poll:
            self.listener = self.run.spawn(self.poll())

    def stop(self) -> None:
        if self.listener is not None:
            self.listener.cancel()
        for task in [*self.active.values(), self.breaks]:
            if task is not None:
                task.cancel()

    async def log_out(self) -> None:
        await self.call("agent", "POST", "/api/me/agent", {"action": "logout"}, race=True)

    def missed(self, state: str | None, reason: str | None) -> None:
        """An offer timed out before we accepted (hotline was slow, or our accept was):
        the engine made us not ready (missed). A real agent clicks ready again; so do we."""
        busy = self.recovering is not None and not self.recovering.done()
        if state == "not_ready" and reason == "missed" and not self.on_break and not busy:
            self.recovering = self.run.spawn(
                self.call("recover", "POST", "/api/me/agent", {"action": "ready"}, race=True)
            )

    def dispatch(self, cid: str, status: str) -> None:
        if cid in self.active or cid in self.handled:
            return
        if status == "offered":
            self.run.offer_seen(cid, self.run.now())
        self.active[cid] = self.run.spawn(self.work(cid, status))

    async def listen(self) -> None:
        """The event stream, as the web client reads it; reconnects with `Last-Event-ID`."""
        while True:
            headers = dict(self.token.headers)
            if self.last_event_id:
                headers["last-event-id"] = self.last_event_id
            try:
                async with self.run.stream_http.client.get(
                    "/api/events", headers=headers, timeout=_STREAM_TIMEOUT
                ) as r:
                    self.run.stream_http.tally[f"events {r.status // 100}xx"] += 1
                    if r.status != 200:
                        await asyncio.sleep(1)
                        continue
                    await self._read(r.content)
            except (TimeoutError, aiohttp.ClientError):
                self.run.stream_http.transport += 1
                await asyncio.sleep(0.5)

    async def _read(self, stream: aiohttp.StreamReader) -> None:
        kind = data = None
        async for raw in stream:
            line = raw.decode().rstrip("\r\n")
            if line.startswith(": connected"):
                self.connected.set()
            elif line.startswith("id: "):
                self.last_event_id = line[4:]
            elif line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif line == "":
                if kind == "contact.offered" and data:
                    payload = json.loads(data)["payload"]
                    if payload.get("agent_id") == self.token.user_id:
                        self.dispatch(payload["id"], "offered")
                elif kind == "agent.state_changed" and data:
                    payload = json.loads(data)["payload"]
                    if payload.get("agent_id") == self.token.user_id:
                        self.missed(payload.get("new"), payload.get("reason"))
                kind = data = None

    async def poll(self) -> None:
        while True:
            code, me = await self.call("poll", "GET", "/api/me/agent")
            if code == 200:
                for w in me["work"]:
                    if w["status"] == "offered":
                        self.dispatch(w["id"], "offered")
                self.missed(me["state"], me["reason"])
            await asyncio.sleep(self.run.plan.poll_seconds)

    async def work(self, cid: str, status: str) -> None:
        run = self.run
        try:
            if status == "offered":
                await asyncio.sleep(self.think())
                code, body = await self.call(
                    "accept", "POST", f"/api/contacts/{cid}/accept", race=True
                )
                trace = run.by_id.get(cid)
                if code != 200:  # the caller hung up, or the offer timed out meanwhile
                    if code in (404, 409):
                        code, me = await self.call("agent", "GET", "/api/me/agent")
                        if code == 200:
                            self.missed(me["state"], me["reason"])
                    return
                run.answered_event(cid).set()
                if trace is not None:
                    trace.t_accepted = run.now()
                    trace.agent = self.token.username
                    trace.note(body)
                status = body["status"]
            if status == "connected":
                await asyncio.sleep(self.handle_time())
                code, body = await self.call("end", "POST", f"/api/contacts/{cid}/end", race=True)
                self._note(cid, code, body)
                trace = run.by_id.get(cid)
                if trace is not None:
                    trace.t_ended = run.now()
                status = "wrap_up"
            if status == "wrap_up":
                code, body = await self.call(
                    "wrap_up",
                    "POST",
                    f"/api/contacts/{cid}/wrap-up",
                    {"code": self.rng.choice(run.codes)},
                    race=True,
                )
                self._note(cid, code, body)
                trace = run.by_id.get(cid)
                if trace is not None and code == 200:
                    trace.t_done = run.now()
        finally:
            self.active.pop(cid, None)
            self.handled.add(cid)
        if not self.on_break and self.rng.random() < run.plan.break_probability:
            self.on_break = True
            self.breaks = run.spawn(self.take_break())

    def _note(self, cid: str, code: int, body: Any) -> None:
        trace = self.run.by_id.get(cid)
        if trace is not None and code == 200:
            trace.note(body)

    async def take_break(self) -> None:
        """Not ready (break) for a while; with work still held hotline defers it."""
        try:
            await self.call(
                "agent", "POST", "/api/me/agent", {"action": "not_ready", "reason": "break"}
            )
            await asyncio.sleep(self.break_time())
            await self.call("agent", "POST", "/api/me/agent", {"action": "ready"})
        finally:
            self.on_break = False


async def run(
    plan: LoadPlan,
    *,
    stop: threading.Event | None = None,
    abort: threading.Event | None = None,
) -> LoadReport:
    """Run `plan` against the hotline at `plan.url`. `stop` ends the arrivals early (then
    the run drains and checks as usual); `abort` cancels the run at once, closing its
    connections (CancelledError), e.g. when the server it drives shuts down."""
    return await _Run(plan, stop, abort).main()


def run_sync(
    plan: LoadPlan,
    *,
    stop: threading.Event | None = None,
    abort: threading.Event | None = None,
) -> LoadReport:
    """`run` on a fresh event loop (for the CLI, the benchmark and the demo's thread)."""
    return asyncio.run(run(plan, stop=stop, abort=abort))
