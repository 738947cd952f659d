// What the agent desktop and the wallboard share about the live event stream: the event types
// that change an agent or a contact, subscribing while a component is mounted, and reading
// again (one read at a time) when events may have been missed.
import { onMounted, onUnmounted, watch } from 'vue'
import { live, onLiveEvent, type LiveEvent } from '@/lib/live'

export const AGENT_EVENTS = [
  'agent.state_changed',
  'agent.not_ready_pending',
  'agent.seat_changed',
  'agent.logout_requested',
  'agent.logout_withdrawn',
  'agent.logout_decided',
  'agent.profile_changed',
]

/** Contact events that concern the agent handling the contact. */
export const CONTACT_EVENTS = [
  'contact.offered',
  'contact.offer_declined',
  'contact.offer_timed_out',
  'contact.offer_withdrawn',
  'contact.connected',
  'contact.ended',
  'contact.wrapped_up',
  'contact.finished',
  'contact.transferred',
  'contact.moved',
  'contact.abandoned',
  'contact.callback_requested',
  'contact.callback_scheduled',
  'contact.priority_changed',
]

export type LiveHandler = (event: LiveEvent) => void

/** Subscribes each handler to its event types while the calling component is mounted, and
 * calls `resync` whenever the stream (re)connects, the first connect included: events may have
 * been missed while it was down, or between the first read and the stream's start. */
export function useLiveEvents(
  subscriptions: readonly (readonly [types: readonly string[], handler: LiveHandler])[],
  resync: () => void,
): void {
  const offs: (() => void)[] = []
  onMounted(() => {
    for (const [types, handler] of subscriptions) {
      for (const type of types) offs.push(onLiveEvent(type, handler))
    }
  })
  onUnmounted(() => offs.forEach((off) => off()))
  watch(
    () => live.state,
    (state, before) => {
      if (state === 'connected' && before !== 'connected') resync()
    },
  )
}

/** `read` one at a time: a call while one runs makes one more follow it (so the last answer
 * is never a stale one) and shares its promise; a failure goes to `onError`. */
export function coalescedRead(
  read: () => Promise<void>,
  onError: (err: unknown) => void,
): () => Promise<void> {
  let running: Promise<void> | null = null
  let again = false
  return () => {
    if (running) {
      again = true
      return running
    }
    running = (async () => {
      try {
        do {
          again = false
          await read()
        } while (again)
      } catch (err) {
        onError(err)
      } finally {
        running = null
      }
    })()
    return running
  }
}
