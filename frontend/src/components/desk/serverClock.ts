// The server's clock as seen from the browser. Deadlines (offer timeout, wrap-up end) and
// "time in state" are server instants; the browser's clock may be off by seconds (or, in tests,
// by months: the server runs on a ManualClock). Every event of the live stream carries the
// server time it happened at, so `at - received` is a lower bound of the offset; the largest
// one seen is the best estimate (least delivery delay). Until one is seen, the browser's clock.
import { onMounted, onUnmounted, ref, type Ref } from 'vue'

let offsetMs: number | null = null

/** Record that the server's clock read `iso` at (or just before) `receivedAt` (browser ms). */
export function noteServerTime(iso: string | null | undefined, receivedAt = Date.now()): void {
  if (!iso) return
  const at = Date.parse(iso)
  if (Number.isNaN(at)) return
  const sample = at - receivedAt
  if (offsetMs === null || sample > offsetMs) offsetMs = sample
}

/** The server's time now, in epoch ms (estimated). */
export function serverNow(): number {
  return Date.now() + (offsetMs ?? 0)
}

/** For tests: forget what was learned. */
export function resetServerClock(): void {
  offsetMs = null
}

/** A ref holding serverNow(), refreshed every `everyMs` while the component is mounted. */
export function useServerNow(everyMs = 250): Ref<number> {
  const now = ref(serverNow())
  let timer: ReturnType<typeof setInterval> | null = null
  onMounted(() => {
    timer = setInterval(() => (now.value = serverNow()), everyMs)
  })
  onUnmounted(() => {
    if (timer !== null) clearInterval(timer)
  })
  return now
}
