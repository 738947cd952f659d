// Session idle timeout on the client: warn before the server's idle timeout ends the session.
//
// User activity (clicks, key presses) counts; it is shared between tabs through localStorage
// so an idle tab does not sign out a user who is busy in another one. The server counts only
// requests, so while the user is active we touch the session (GET /api/me) often enough.
import { onScopeDispose, ref, type Ref } from 'vue'
import { api, onServerContact } from './api'

const STORAGE_KEY = 'hotline.lastActivity'
/** The server refreshes its idle timer only on requests more than 30 s after the last one. */
const SERVER_STALE_MS = 30_000

export function warningLeadSeconds(timeoutSeconds: number): number {
  return Math.min(60, Math.floor(timeoutSeconds / 2))
}

export interface IdleTimer {
  warning: Ref<boolean>
  secondsLeft: Ref<number>
  stay: () => Promise<void>
}

/** `timeoutSeconds` null: no idle timeout (a display session), never warns nor expires. */
export function useIdleTimer(
  timeoutSeconds: Ref<number | null>,
  onExpire: () => void,
  now: () => number = () => Date.now(),
): IdleTimer {
  const warning = ref(false)
  const secondsLeft = ref(0)
  let lastActivity = now()
  let serverSeen = now()
  let lastShared = 0

  function shared(): number {
    try {
      return Number(window.localStorage.getItem(STORAGE_KEY)) || 0
    } catch {
      return 0
    }
  }

  function touchServer(): void {
    api.get('/api/me').catch(() => undefined) // a 401 is handled by the api module
  }

  function activity(): void {
    if (warning.value) return // only "stay signed in" dismisses the warning
    const t = now()
    lastActivity = t
    if (t - lastShared > 5000) {
      lastShared = t
      try {
        window.localStorage.setItem(STORAGE_KEY, String(t))
      } catch {
        // not shared; this tab still works
      }
    }
    if (t - serverSeen > SERVER_STALE_MS) touchServer()
  }

  const stopContact = onServerContact(() => {
    const t = now()
    if (t - serverSeen > SERVER_STALE_MS) serverSeen = t
  })

  function tick(): void {
    if (timeoutSeconds.value === null) {
      warning.value = false
      return
    }
    const last = Math.max(lastActivity, shared())
    const timeout = timeoutSeconds.value * 1000
    const left = last + timeout - now()
    if (left <= 0) {
      warning.value = false
      stop()
      onExpire()
      return
    }
    if (left <= warningLeadSeconds(timeoutSeconds.value) * 1000) {
      warning.value = true
      secondsLeft.value = Math.ceil(left / 1000)
    } else if (warning.value) {
      warning.value = false // activity in another tab
    }
  }

  async function stay(): Promise<void> {
    await api.get('/api/me')
    warning.value = false
    lastActivity = now()
    activity()
  }

  const events = ['pointerdown', 'keydown'] as const
  events.forEach((e) => window.addEventListener(e, activity, { capture: true, passive: true }))
  const timer = setInterval(tick, 1000)

  function stop(): void {
    clearInterval(timer)
    events.forEach((e) => window.removeEventListener(e, activity, { capture: true }))
    stopContact()
  }
  onScopeDispose(stop)

  return { warning, secondsLeft, stay }
}
