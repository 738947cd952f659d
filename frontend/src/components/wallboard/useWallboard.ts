// The wallboard's live data: queue rows and agent rows, kept current from the event stream.
//
// - `stats.queue` / `stats.agent` events carry a whole new row: it replaces the old one.
// - `agent.*` events change an agent row at once (state, since, seat, logout request), so a
//   state change reaches the screen without a request.
// - `contact.*` events name a queue: its row is read again (coalesced: a burst of events costs
//   one request), so the waiting count follows within one round trip, without waiting for the
//   statistics publisher (about once a second).
// - A list answer says which stream position it is as new as (`position`): older row events
//   arriving after it are skipped, so a late event never undoes a newer read.
// - Each read and event is stamped when it starts (a counter): a row is only replaced by
//   something that started later than what it shows, so a slow read never undoes an event
//   that arrived while it was under way.
// - When the stream (re)connects, and every minute, everything is read again (events may have
//   been missed; rolling figures move with the clock).
import { onMounted, onUnmounted, ref, shallowRef } from 'vue'
import { api, ApiError } from '@/lib/api'
import type { LiveEvent } from '@/lib/live'
import { useSession } from '@/lib/session'
import { noteServerTime, serverNow } from '@/components/desk/serverClock'
import type { Page } from '@/components/desk/model'
import { AGENT_EVENTS, CONTACT_EVENTS, coalescedRead, useLiveEvents } from '@/components/liveEvents'
import {
  agentFromOut,
  applyAgentEvent,
  mergeAgentLive,
  queueFromConfig,
  queueFromLive,
  sortAgents,
  sortQueues,
  type AgentOut,
  type AgentRow,
  type QueueOut,
  type QueueRow,
} from './model'

/** The live statistics API (src/hotline/api/stats.py). */
export const STATS = {
  queues: '/api/stats/queues',
  agents: '/api/stats/agents',
  intervals: '/api/stats/intervals',
}

/** Besides the ones an agent's desktop follows: these change a queue's waiting line. */
const QUEUE_CONTACT_EVENTS = ['contact.queued', 'contact.overflowed', 'contact.max_wait_exceeded']
const QUEUE_EVENTS = ['queue.created', 'queue.updated']
const RESYNC_MS = 60_000
const ALL_GAP_MS = 250

async function allPages<T>(path: string, query: Record<string, string> = {}): Promise<T[]> {
  const out: T[] = []
  let after: string | null = null
  for (;;) {
    const page: Page<T> = await api.get<Page<T>>(path, {
      query: { ...query, limit: 200, after: after ?? undefined },
    })
    out.push(...page.items)
    if (!page.next_after) return out
    after = page.next_after
  }
}

/** The statistics API is absent (an older server) or not for this user (no `stats:read`). */
function isMissing(err: unknown): boolean {
  return err instanceof ApiError && [403, 404, 405].includes(err.status)
}

interface LivePage {
  position?: number
  items?: Record<string, unknown>[]
}

function items(body: unknown): Record<string, unknown>[] {
  if (Array.isArray(body)) return body as Record<string, unknown>[]
  const list = (body as { items?: unknown } | null)?.items
  return Array.isArray(list) ? (list as Record<string, unknown>[]) : []
}

export interface WallboardOptions {
  /** Called with the queue ids a contact event touched (the team view reloads its line). */
  onQueueTouched?: (queueIds: string[], event: LiveEvent) => void
}

export function useWallboard(options: WallboardOptions = {}) {
  const session = useSession()
  const queues = shallowRef<QueueRow[]>([])
  const agents = shallowRef<AgentRow[]>([])
  const loaded = ref(false)
  const loadError = ref<unknown>(null)
  /** Whether the server offers the live statistics API (null: not asked yet). */
  const statsApi = ref<boolean | null>(null)
  /** Bumped whenever a queue row changes (the chart reloads, throttled). */
  const queueVersion = ref(0)

  const canSupervise = () => session.may('agent:supervise')
  // Stream positions the last list reads are as new as (0: unknown).
  let queuesPosition = 0
  let agentsPosition = 0

  let stampCounter = 0
  const stamp = () => ++stampCounter
  const queueStamps = new Map<string, number>()
  const agentStamps = new Map<string, number>()

  /** Rows read (or received) at `at`; `full`: the whole list, so missing rows are gone. */
  function applyQueues(rows: QueueRow[], at: number, full: boolean): void {
    const byId = new Map(queues.value.map((q) => [q.queue_id, q]))
    if (full) {
      for (const id of [...byId.keys()]) {
        if (!rows.some((r) => r.queue_id === id) && (queueStamps.get(id) ?? 0) <= at) {
          byId.delete(id)
        }
      }
    }
    for (const r of rows) {
      if ((queueStamps.get(r.queue_id) ?? 0) > at) continue // something newer is shown
      byId.set(r.queue_id, r)
      queueStamps.set(r.queue_id, at)
    }
    queues.value = sortQueues(byId.values())
    queueVersion.value++
  }

  function applyAgents(rows: AgentRow[], at: number, full: boolean): void {
    const byId = new Map(agents.value.map((a) => [a.agent_id, a]))
    if (full) {
      for (const id of [...byId.keys()]) {
        if (!rows.some((r) => r.agent_id === id) && (agentStamps.get(id) ?? 0) <= at) {
          byId.delete(id)
        }
      }
    }
    for (const r of rows) {
      if ((agentStamps.get(r.agent_id) ?? 0) > at) continue
      byId.set(r.agent_id, r)
      agentStamps.set(r.agent_id, at)
    }
    agents.value = sortAgents(byId.values())
  }

  const setQueue = (row: QueueRow, at = stamp()) => applyQueues([row], at, false)
  const setAgent = (row: AgentRow, at = stamp()) => applyAgents([row], at, false)

  async function loadQueues(): Promise<QueueRow[]> {
    if (statsApi.value !== false) {
      try {
        const page = await api.get<LivePage>(STATS.queues)
        statsApi.value = true
        queuesPosition = Math.max(queuesPosition, page.position ?? 0)
        return items(page).map(queueFromLive)
      } catch (err) {
        if (!isMissing(err)) throw err
        statsApi.value = false
      }
    }
    const list = await allPages<QueueOut>('/api/queues')
    return Promise.all(
      list.map(async (q) => queueFromConfig(await api.get<QueueOut>(`/api/queues/${q.id}`), serverNow())),
    )
  }

  async function loadAgents(): Promise<AgentRow[]> {
    const base = canSupervise() ? (await allPages<AgentOut>('/api/agents')).map(agentFromOut) : []
    if (!statsApi.value) return base
    const byId = new Map(base.map((a) => [a.agent_id, a]))
    const page = await api.get<LivePage>(STATS.agents)
    agentsPosition = Math.max(agentsPosition, page.position ?? 0)
    for (const p of items(page)) {
      const id = String(p.agent_id ?? '')
      // Without supervision rights the statistics rows are the board; with them, the
      // statistics only add figures to the agents in the supervisor's scope.
      if (!canSupervise() || byId.has(id)) byId.set(id, mergeAgentLive(byId.get(id), p))
    }
    return [...byId.values()]
  }

  /** Read everything again (one at a time; a call during a load queues one more). */
  const reload = coalescedRead(
    async () => {
      const atQ = stamp()
      const q = await loadQueues()
      const atA = stamp()
      const a = await loadAgents()
      applyQueues(q, atQ, true)
      applyAgents(a, atA, true)
      loadError.value = null
      loaded.value = true
    },
    (err) => (loadError.value = err),
  )

  // --- queues again, coalesced -------------------------------------------------------------
  // With the statistics API one request reads every queue (ALL); without it, one per queue.
  const ALL = '*'
  const dirty = new Set<string>()
  const inFlight = new Set<string>()
  let flushScheduled = false

  async function refreshQueue(id: string): Promise<void> {
    if (inFlight.has(id)) {
      dirty.add(id) // read again when this one answers: never a stale answer last
      return
    }
    inFlight.add(id)
    try {
      const at = stamp()
      if (id === ALL) {
        applyQueues(await loadQueues(), at, true)
      } else {
        setQueue(queueFromConfig(await api.get<QueueOut>(`/api/queues/${id}`), serverNow()), at)
      }
    } catch (err) {
      if (isMissing(err)) {
        queues.value = queues.value.filter((q) => q.queue_id !== id) // gone or out of scope
      }
    } finally {
      inFlight.delete(id)
      if (dirty.has(id)) scheduleFlush()
    }
  }

  function touchQueues(ids: string[]): void {
    for (const id of statsApi.value ? [ALL] : ids) dirty.add(id)
    scheduleFlush()
  }

  // Reading every queue costs the server a few queries: during a burst of events a board
  // reads them at most once per ALL_GAP_MS (the first event of a quiet spell at once).
  let lastAll = 0
  let allTimer: ReturnType<typeof setTimeout> | null = null

  function scheduleFlush(): void {
    if (flushScheduled) return
    flushScheduled = true
    queueMicrotask(() => {
      flushScheduled = false
      for (const id of [...dirty]) {
        if (inFlight.has(id)) continue
        if (id === ALL) {
          const wait = lastAll + ALL_GAP_MS - Date.now()
          if (wait > 0) {
            allTimer ??= setTimeout(() => {
              allTimer = null
              scheduleFlush()
            }, wait)
            continue
          }
          lastAll = Date.now()
        }
        dirty.delete(id)
        void refreshQueue(id)
      }
    })
  }

  // --- events ------------------------------------------------------------------------------
  let agentsReload: ReturnType<typeof setTimeout> | null = null
  function reloadAgentsSoon(): void {
    if (agentsReload !== null) return
    agentsReload = setTimeout(async () => {
      agentsReload = null
      try {
        const at = stamp()
        applyAgents(await loadAgents(), at, true)
      } catch (err) {
        loadError.value = err
      }
    }, 200)
  }

  function onAgentEvent(event: LiveEvent): void {
    noteServerTime(event.at)
    // Applied whatever its position: events come in order, so the row ends right even when
    // the read already had this one (and /api/agents says nothing of its position).
    const id = String(event.payload.agent_id ?? event.object_id ?? '')
    const row = agents.value.find((a) => a.agent_id === id)
    if (!row || event.type === 'agent.profile_changed') {
      if (canSupervise() || statsApi.value) reloadAgentsSoon() // someone new in scope
      return
    }
    const next = applyAgentEvent(row, event.type, event.at, event.payload)
    if (next) setAgent(next)
    // Queue rows count their agents per state: read them again too (coalesced).
    if (event.type === 'agent.state_changed' && statsApi.value) touchQueues([])
  }

  function onContactEvent(event: LiveEvent): void {
    noteServerTime(event.at)
    const p = event.payload
    const ids = [p.queue_id, p.from_queue, p.to_queue]
      .filter((v): v is string => typeof v === 'string' && v.length > 0)
      .filter((v, i, all) => all.indexOf(v) === i)
    if (!ids.length) return
    // With the statistics API, `stats.queue` events bring the rows; still read the touched
    // queues at once: the statistics are published about once a second.
    touchQueues(ids)
    options.onQueueTouched?.(ids, event)
  }

  function onStatsQueue(event: LiveEvent): void {
    noteServerTime(event.at)
    if (event.id <= queuesPosition) return
    const row = queueFromLive(event.payload)
    if (row.queue_id) setQueue(row)
  }

  function onStatsAgent(event: LiveEvent): void {
    noteServerTime(event.at)
    if (event.id <= agentsPosition) return
    const id = String(event.payload.agent_id ?? '')
    const old = agents.value.find((a) => a.agent_id === id)
    if (!old && canSupervise()) return // outside the supervisor's scope
    setAgent(mergeAgentLive(old, event.payload))
  }

  useLiveEvents(
    [
      [AGENT_EVENTS, onAgentEvent],
      [[...CONTACT_EVENTS, ...QUEUE_CONTACT_EVENTS], onContactEvent],
      [QUEUE_EVENTS, () => void reload()],
      [['stats.queue'], onStatsQueue],
      [['stats.agent'], onStatsAgent],
    ],
    () => void reload(),
  )
  let resync: ReturnType<typeof setInterval> | null = null
  onMounted(() => {
    void reload()
    resync = setInterval(() => void reload(), RESYNC_MS)
  })
  onUnmounted(() => {
    if (resync !== null) clearInterval(resync)
    if (agentsReload !== null) clearTimeout(agentsReload)
    if (allTimer !== null) clearTimeout(allTimer)
  })

  return { queues, agents, loaded, loadError, statsApi, queueVersion, reload, refreshQueue }
}

export type Wallboard = ReturnType<typeof useWallboard>
