// The wallboard's shapes and pure rules: live queue and agent rows, the thresholds that colour
// them, durations, and how an agent event changes a row. No Vue, no requests (tested alone).
//
// The rows follow the live statistics API (domains/stats: QueueLive / AgentLive, also the
// payload of `stats.queue` / `stats.agent` events). Until a server offers that API, the rows
// are made from `GET /api/queues/{id}` (its `stats` block) and `GET /api/agents`.

import {
  AGENT_REASONS,
  formatDuration,
  type AgentMe,
  type AgentState,
  type LogoutRequest,
} from '@/components/desk/model'

// The agent's shapes and words are the desktop's (one definition for both).
export type { AgentState, LogoutRequest }

export const AGENT_STATES: readonly AgentState[] = [
  'ready',
  'reserved',
  'busy',
  'wrap_up',
  'not_ready',
  'logged_out',
]

/** Reasons a team lead may give when setting an agent not ready (`supervisor` by default). */
export const SUPERVISOR_REASONS = ['supervisor', ...AGENT_REASONS] as const
export type SupervisorReason = (typeof SUPERVISOR_REASONS)[number]

/** Every reason the server may report (the engine sets `missed` and `login` itself). */
export const ALL_REASONS = [...SUPERVISOR_REASONS, 'missed', 'login'] as const

export const MAX_PRIORITY = 1000 // routing.model.MAX_PRIORITY

export interface Figures {
  offered: number
  answered: number
  abandoned: number
}

export interface QueueRow {
  queue_id: string
  code: string
  name: string
  org_unit_id: string
  waiting: number
  /** When the contact waiting longest entered the queue (server time); null: nobody waits. */
  oldest_waiting_since: string | null
  offering: number | null
  connected: number
  today: Figures
  last_15: Figures | null
  last_30: Figures | null
  service_level_percent: number | null
  service_level_target_percent: number
  service_level_seconds: number
  asa_seconds: number | null
  aht_seconds: number | null
  /** Agents able to serve the queue, per state (live statistics API only). */
  agents: Partial<Record<AgentState, number>> | null
}

export interface AgentRow {
  agent_id: string
  username: string
  display_name: string
  org_unit_id: string
  state: AgentState
  reason: string | null
  state_since: string | null
  seat: string | null
  /** Not ready once the current work is done, with this reason. */
  pending_reason: string | null
  logout_request: LogoutRequest | null
  handled_today: number | null
  aht_seconds: number | null
  occupancy_percent: number | null
}

/** A contact in a waiting line (GET /api/contacts?queue_id=, masked). */
export interface WaitingContact {
  id: string
  channel: string
  caller: string | null
  caller_area: string | null
  priority: number
  callback: boolean
  queued_at: string | null
  arrived_at: string
  position?: number | null
}

// --- the API's shapes this module converts -----------------------------------------------
export interface QueueStatsOut {
  waiting: number
  offered: number
  connected: number
  longest_wait_seconds: number
  answered: number
  answered_within_target: number
  abandoned: number
  service_level_percent: number | null
  service_level_target_percent: number
}

export interface QueueOut {
  id: string
  code: string
  name: string
  org_unit_id: string
  service_level_seconds: number
  service_level_percent: number
  stats: QueueStatsOut | null
}

/** A row of `GET /api/agents`: the same record as the desktop's own, without its work. */
export type AgentOut = Pick<
  AgentMe,
  | 'user_id'
  | 'username'
  | 'display_name'
  | 'org_unit_id'
  | 'has_profile'
  | 'state'
  | 'reason'
  | 'state_since'
  | 'seat'
  | 'pending_reason'
  | 'logout_request'
>

/** A live queue row (statistics API / `stats.queue` payload) as the board keeps it. */
export function queueFromLive(p: Record<string, unknown>): QueueRow {
  const figures = (v: unknown): Figures | null => {
    if (!v || typeof v !== 'object') return null
    const f = v as Partial<Figures>
    return { offered: f.offered ?? 0, answered: f.answered ?? 0, abandoned: f.abandoned ?? 0 }
  }
  const num = (v: unknown): number | null => (typeof v === 'number' ? v : null)
  return {
    queue_id: String(p.queue_id ?? p.id ?? ''),
    code: String(p.code ?? ''),
    name: String(p.name ?? ''),
    org_unit_id: String(p.org_unit_id ?? ''),
    waiting: num(p.waiting) ?? 0,
    oldest_waiting_since: typeof p.oldest_waiting_since === 'string' ? p.oldest_waiting_since : null,
    offering: num(p.offering),
    connected: num(p.connected) ?? 0,
    today: figures(p.today) ?? { offered: 0, answered: 0, abandoned: 0 },
    last_15: figures(p.last_15),
    last_30: figures(p.last_30),
    service_level_percent: num(p.service_level_percent),
    service_level_target_percent: num(p.service_level_target_percent) ?? 80,
    service_level_seconds: num(p.service_level_seconds) ?? 20,
    asa_seconds: num(p.asa_seconds),
    aht_seconds: num(p.aht_seconds),
    agents:
      p.agents && typeof p.agents === 'object'
        ? (p.agents as Partial<Record<AgentState, number>>)
        : null,
  }
}

/** A queue from `GET /api/queues/{id}`; `now` (server ms) turns the longest wait into an
 * instant so the board can tick it. */
export function queueFromConfig(q: QueueOut, now: number): QueueRow {
  const s = q.stats
  return {
    queue_id: q.id,
    code: q.code,
    name: q.name,
    org_unit_id: q.org_unit_id,
    waiting: s?.waiting ?? 0,
    oldest_waiting_since:
      s && s.waiting > 0 ? new Date(now - s.longest_wait_seconds * 1000).toISOString() : null,
    offering: null,
    connected: s?.connected ?? 0,
    today: { offered: s?.offered ?? 0, answered: s?.answered ?? 0, abandoned: s?.abandoned ?? 0 },
    last_15: null,
    last_30: null,
    service_level_percent: s?.service_level_percent ?? null,
    service_level_target_percent: s?.service_level_target_percent ?? q.service_level_percent,
    service_level_seconds: q.service_level_seconds,
    asa_seconds: null,
    aht_seconds: null,
    agents: null,
  }
}

export function agentFromOut(a: AgentOut): AgentRow {
  return {
    agent_id: a.user_id,
    username: a.username,
    display_name: a.display_name,
    org_unit_id: a.org_unit_id,
    state: a.state,
    reason: a.reason,
    state_since: a.state_since,
    seat: a.seat,
    pending_reason: a.pending_reason,
    logout_request: a.logout_request,
    handled_today: null,
    aht_seconds: null,
    occupancy_percent: null,
  }
}

/** Lay a live agent row (statistics API / `stats.agent` payload) over what the board has:
 * the statistics win for the figures, the supervision fields (logout request) stay. */
export function mergeAgentLive(old: AgentRow | undefined, p: Record<string, unknown>): AgentRow {
  const num = (v: unknown): number | null => (typeof v === 'number' ? v : null)
  const str = (v: unknown): string | null => (typeof v === 'string' ? v : null)
  return {
    agent_id: String(p.agent_id ?? old?.agent_id ?? ''),
    username: str(p.username) ?? old?.username ?? '',
    display_name: str(p.display_name) ?? old?.display_name ?? '',
    org_unit_id: str(p.org_unit_id) ?? old?.org_unit_id ?? '',
    state: (str(p.state) as AgentState | null) ?? old?.state ?? 'logged_out',
    reason: 'reason' in p ? str(p.reason) : (old?.reason ?? null),
    state_since: 'state_since' in p ? str(p.state_since) : (old?.state_since ?? null),
    seat: 'seat' in p ? str(p.seat) : (old?.seat ?? null),
    pending_reason: old?.pending_reason ?? null,
    logout_request: old?.logout_request ?? null,
    handled_today: num(p.handled_today),
    aht_seconds: num(p.aht_seconds),
    occupancy_percent: num(p.occupancy_percent),
  }
}

/** The row after an `agent.*` event (`at`: when it happened); null: nothing to change. */
export function applyAgentEvent(
  row: AgentRow,
  type: string,
  at: string,
  p: Record<string, unknown>,
): AgentRow | null {
  const str = (v: unknown): string | null => (typeof v === 'string' ? v : null)
  switch (type) {
    case 'agent.state_changed':
      return {
        ...row,
        state: (str(p.new) as AgentState | null) ?? row.state,
        reason: str(p.reason),
        state_since: at,
        seat: 'seat' in p ? str(p.seat) : row.seat,
        pending_reason: null,
      }
    case 'agent.not_ready_pending':
      return { ...row, pending_reason: str(p.reason) }
    case 'agent.seat_changed':
      return { ...row, seat: str(p.new_seat) }
    case 'agent.logout_requested':
      return {
        ...row,
        logout_request: {
          id: str(p.request_id) ?? '',
          requested_at: at,
          cause: str(p.cause) ?? '',
          status: 'pending',
        },
      }
    case 'agent.logout_decided':
    case 'agent.logout_withdrawn':
      return { ...row, logout_request: null }
    default:
      return null
  }
}

// --- thresholds ----------------------------------------------------------------------------
export type Level = 'ok' | 'warn' | 'bad' | 'none'

/** Points below the service-level target that still count as "close" (amber, not red). */
export const SL_AMBER_POINTS = 5
/** Abandon rate (abandoned / offered today, %) from which a queue is amber / red. */
export const ABANDON_WARN_PERCENT = 5
export const ABANDON_BAD_PERCENT = 10
/** Longest wait as a share of the queue's service-level seconds: amber from, red from. */
export const WAIT_WARN_SHARE = 0.5
export const WAIT_BAD_SHARE = 1
/** Minutes not ready from which an agent is amber / red. */
export const NOT_READY_WARN_MINUTES = 5
export const NOT_READY_BAD_MINUTES = 15

export function serviceLevelLevel(sl: number | null, target: number): Level {
  if (sl === null) return 'none'
  if (sl >= target) return 'ok'
  return sl >= target - SL_AMBER_POINTS ? 'warn' : 'bad'
}

export function waitLevel(waitSeconds: number | null, slSeconds: number): Level {
  if (waitSeconds === null) return 'none'
  if (waitSeconds >= slSeconds * WAIT_BAD_SHARE) return 'bad'
  return waitSeconds >= slSeconds * WAIT_WARN_SHARE ? 'warn' : 'ok'
}

/** Abandoned over offered, in percent (null when nothing was offered). */
export function abandonRate(f: Figures): number | null {
  return f.offered > 0 ? Math.round((1000 * f.abandoned) / f.offered) / 10 : null
}

export function abandonLevel(rate: number | null): Level {
  if (rate === null) return 'none'
  if (rate >= ABANDON_BAD_PERCENT) return 'bad'
  return rate >= ABANDON_WARN_PERCENT ? 'warn' : 'ok'
}

export function stateTimeLevel(state: AgentState, seconds: number | null): Level {
  if (state !== 'not_ready' || seconds === null) return 'none'
  if (seconds >= NOT_READY_BAD_MINUTES * 60) return 'bad'
  return seconds >= NOT_READY_WARN_MINUTES * 60 ? 'warn' : 'ok'
}

/** The worse of two levels (for a tile's frame). */
export function worst(...levels: Level[]): Level {
  const rank: Record<Level, number> = { none: 0, ok: 1, warn: 2, bad: 3 }
  return levels.reduce<Level>((a, b) => (rank[b] > rank[a] ? b : a), 'none')
}

// --- time ----------------------------------------------------------------------------------
/** Seconds from `since` (ISO) to `now` (ms), never negative; null without `since`. */
export function secondsSince(since: string | null, now: number): number | null {
  if (!since) return null
  const at = Date.parse(since)
  if (Number.isNaN(at)) return null
  return Math.max(0, Math.floor((now - at) / 1000))
}

/** 0:07, 12:34, 1:02:03 — a wallboard duration. */
export function clockDuration(seconds: number | null): string {
  return seconds === null ? '–' : formatDuration(seconds)
}

/** Queues by code, agents by name then username: the board's fixed orders. */
export function sortQueues(rows: Iterable<QueueRow>): QueueRow[] {
  return [...rows].sort((a, b) => a.code.localeCompare(b.code) || a.queue_id.localeCompare(b.queue_id))
}

export function sortAgents(rows: Iterable<AgentRow>): AgentRow[] {
  return [...rows].sort(
    (a, b) => a.username.localeCompare(b.username) || a.agent_id.localeCompare(b.agent_id),
  )
}

// --- today's intervals (the chart) ---------------------------------------------------------
export interface IntervalPoint {
  start: string
  offered: number
  answered: number
  abandoned: number
  /** Service level of the interval in percent (null: nothing answered or abandoned). */
  service_level_percent: number | null
}

/** Interval rows (any number per start, e.g. one per queue) summed per interval start, in
 * time order; the service level as the stats domain computes it (short abandons excluded).
 * With `minutes`, intervals without rows between the first and the last are filled with
 * zeros, so the chart's time axis has no holes. */
export function sumIntervals(
  rows: readonly Record<string, unknown>[],
  minutes?: number,
): IntervalPoint[] {
  const by = new Map<string, { o: number; a: number; sl: number; ab: number; short: number }>()
  for (const r of rows) {
    const start = String(r.interval_start ?? r.start ?? '')
    if (!start) continue
    const c = (r.counts && typeof r.counts === 'object' ? r.counts : r) as Record<string, unknown>
    const n = (k: string) => (typeof c[k] === 'number' ? (c[k] as number) : 0)
    const acc = by.get(start) ?? { o: 0, a: 0, sl: 0, ab: 0, short: 0 }
    acc.o += n('offered')
    acc.a += n('answered')
    acc.sl += n('answered_in_sl')
    acc.ab += n('abandoned')
    acc.short += n('abandoned_short')
    by.set(start, acc)
  }
  const times = [...by.keys()].map((k) => Date.parse(k)).filter((v) => !Number.isNaN(v))
  if (minutes && minutes > 0 && times.length > 1) {
    const known = new Set(times)
    const step = minutes * 60_000
    const last = Math.max(...times)
    // At most one day of intervals: a gap is never filled beyond that.
    for (let at = Math.min(...times), i = 0; at < last && i < 1440; at += step, i++) {
      if (!known.has(at)) by.set(new Date(at).toISOString(), { o: 0, a: 0, sl: 0, ab: 0, short: 0 })
    }
  }
  return [...by.entries()]
    .sort(([a], [b]) => Date.parse(a) - Date.parse(b))
    .map(([start, x]) => {
      const denom = x.a + x.ab - x.short
      return {
        start,
        offered: x.o,
        answered: x.a,
        abandoned: x.ab,
        service_level_percent: denom > 0 ? Math.round((10000 * x.sl) / denom) / 100 : null,
      }
    })
}
