// The agent desktop's state: my agent record (GET /api/me/agent) kept current from the live
// event stream, the reference lists it names (queues, entry points, wrap-up codes), and the
// actions. Refetching on events keeps one source of truth (the server); fetches are coalesced
// so a burst of events costs one or two requests.
import { computed, onMounted, ref, shallowRef } from 'vue'
import { api } from '@/lib/api'
import type { LiveEvent } from '@/lib/live'
import { AGENT_EVENTS, CONTACT_EVENTS, coalescedRead, useLiveEvents } from '@/components/liveEvents'
import { noteServerTime } from './serverClock'
import {
  splitWork,
  type AgentMe,
  type EntryPointRef,
  type Page,
  type QueueRef,
  type WrapUpCodeRef,
} from './model'

/** What the desktop tells the agent after something happened elsewhere. */
export type DeskNotice =
  | { kind: 'missed' }
  | { kind: 'declined' }
  | { kind: 'logout'; status: 'approved' | 'rejected' }

type Body = Record<string, unknown>

export function useDesk() {
  const me = shallowRef<AgentMe | null>(null)
  const loadError = ref<unknown>(null)
  const queues = shallowRef<QueueRef[]>([])
  const entryPoints = shallowRef<EntryPointRef[]>([])
  const wrapUpCodes = shallowRef<WrapUpCodeRef[]>([])
  const notice = ref<DeskNotice | null>(null)
  const work = computed(() => splitWork(me.value?.work ?? []))

  function accept(next: AgentMe): void {
    // The server's clock when it answered, and a state that just changed started at the
    // server's "now": clock samples.
    noteServerTime(next.server_time)
    if (next.state_since && next.state_since !== me.value?.state_since) {
      noteServerTime(next.state_since)
    }
    me.value = next
  }

  /** GET /api/me/agent; while one is running, one more follows (never a stale answer last). */
  const refresh = coalescedRead(
    async () => {
      accept(await api.get<AgentMe>('/api/me/agent'))
      loadError.value = null
    },
    (err) => (loadError.value = err),
  )

  async function loadReference(): Promise<void> {
    const [q, e, w] = await Promise.all([
      api.get<Page<QueueRef>>('/api/queues', { query: { limit: 200 } }),
      api.get<Page<EntryPointRef>>('/api/entry-points', { query: { limit: 200 } }),
      api.get<Page<WrapUpCodeRef>>('/api/wrap-up-codes', { query: { limit: 200 } }),
    ])
    queues.value = q.items
    entryPoints.value = e.items
    wrapUpCodes.value = w.items.filter((c) => c.active)
  }

  /** POST /api/me/agent (login, ready, not_ready, seat, logout). Throws ApiError. */
  async function agentAction(body: Body): Promise<AgentMe> {
    const next = await api.post<AgentMe>('/api/me/agent', body)
    if (body.action !== 'logout' || next.logout_request === null) notice.value = null
    accept(next)
    return next
  }

  /** POST /api/contacts/{id}/{verb}, then my state again. Throws ApiError. */
  async function contactAction(id: string, verb: string, body?: Body): Promise<void> {
    try {
      await api.post(`/api/contacts/${encodeURIComponent(id)}/${verb}`, body)
      if (verb === 'decline') notice.value = { kind: 'declined' }
      else if (verb === 'accept') notice.value = null
    } finally {
      await refresh()
    }
  }

  function mine(event: LiveEvent): boolean {
    const id = me.value?.user_id
    if (!id) return true // not loaded yet: refetching is harmless
    if (event.object_type === 'agent') return event.object_id === id
    return event.payload.agent_id === id || !!me.value?.work.some((c) => c.id === event.object_id)
  }

  function onEvent(event: LiveEvent): void {
    noteServerTime(event.at)
    if (!mine(event)) return
    const id = me.value?.user_id
    if (event.type === 'contact.offer_timed_out' && event.payload.agent_id === id) {
      notice.value = { kind: 'missed' }
    } else if (event.type === 'contact.offered' && event.payload.agent_id === id) {
      notice.value = null
    } else if (event.type === 'agent.logout_decided') {
      const status = event.payload.status
      if (status === 'approved' || status === 'rejected') notice.value = { kind: 'logout', status }
    }
    void refresh()
  }

  useLiveEvents([[[...AGENT_EVENTS, ...CONTACT_EVENTS], onEvent]], () => void refresh())
  onMounted(() => {
    void refresh()
    loadReference().catch((err) => (loadError.value = err))
  })

  return {
    me,
    loadError,
    queues,
    entryPoints,
    wrapUpCodes,
    notice,
    work,
    refresh,
    agentAction,
    contactAction,
  }
}

export type Desk = ReturnType<typeof useDesk>
