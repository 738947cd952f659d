// The live event stream (GET /api/events, Server-Sent Events).
//
// EventSource reconnects by itself after a network error and sends Last-Event-ID, so events
// are not lost across short outages. It gives up for good when the server answers with an
// error status (say a proxy's 502 during a restart, or 401 when the session ended): then we
// check the session and open a new stream ourselves, resuming with ?since=<last id>.
import { reactive } from 'vue'
import { api, ApiError } from './api'

export type LiveState = 'idle' | 'connecting' | 'connected' | 'disconnected'

export interface LiveEvent {
  id: number
  type: string
  at: string
  object_type: string | null
  object_id: string | null
  payload: Record<string, unknown>
}

type Handler = (event: LiveEvent) => void

export const live = reactive({
  state: 'idle' as LiveState,
  lastEventId: null as number | null,
})

const handlers = new Map<string, Set<Handler>>()
let source: EventSource | null = null
let retryTimer: ReturnType<typeof setTimeout> | null = null
let retryDelay = 1000
const MAX_RETRY_DELAY = 15000

function dispatch(message: MessageEvent<string>): void {
  if (message.lastEventId) live.lastEventId = Number(message.lastEventId)
  let event: LiveEvent
  try {
    event = JSON.parse(message.data) as LiveEvent
  } catch {
    return
  }
  handlers.get(message.type)?.forEach((fn) => fn(event))
}

function connect(): void {
  const url = live.lastEventId !== null ? `/api/events?since=${live.lastEventId}` : '/api/events'
  const es = new EventSource(url)
  source = es
  if (live.state !== 'disconnected') live.state = 'connecting'
  es.onopen = () => {
    live.state = 'connected'
    retryDelay = 1000
  }
  es.onerror = () => {
    if (source !== es) return
    live.state = 'disconnected'
    if (es.readyState === EventSource.CLOSED) {
      es.close()
      source = null
      scheduleReconnect()
    }
  }
  // The server ends the stream when the session is over: find out and react (sign-in page).
  es.addEventListener('session_ended', () => {
    es.close()
    if (source === es) source = null
    live.state = 'disconnected'
    scheduleReconnect(0)
  })
  for (const type of handlers.keys()) es.addEventListener(type, dispatch as EventListener)
}

function scheduleReconnect(delay = retryDelay): void {
  if (retryTimer !== null) return
  retryTimer = setTimeout(async () => {
    retryTimer = null
    try {
      // Is the session still there? A 401 signs the user out (the api module's handler).
      await api.get('/api/me')
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        stopLive()
        return
      }
      retryDelay = Math.min(retryDelay * 2, MAX_RETRY_DELAY)
      scheduleReconnect()
      return
    }
    if (live.state !== 'idle' && source === null) connect()
  }, delay)
}

/** Open the stream (once signed in). */
export function startLive(): void {
  if (source !== null || retryTimer !== null) return
  live.state = 'connecting'
  connect()
}

/** Close the stream (on sign-out). */
export function stopLive(): void {
  if (retryTimer !== null) clearTimeout(retryTimer)
  retryTimer = null
  source?.close()
  source = null
  live.state = 'idle'
  live.lastEventId = null
}

/** Call `fn` for each event of `type` (e.g. "user.created"); returns the unsubscribe. */
export function onLiveEvent(type: string, fn: Handler): () => void {
  let set = handlers.get(type)
  if (!set) {
    set = new Set()
    handlers.set(type, set)
    source?.addEventListener(type, dispatch as EventListener)
  }
  set.add(fn)
  return () => {
    set.delete(fn)
  }
}
