// Today's interval rows for the chart (GET /api/stats/intervals, queue rows summed per
// interval). Read when the board loads, then again after queue rows change, at most every
// THROTTLE_MS: an interval's bars move slowly, and the chart need not cost a request per event.
import { onUnmounted, ref, shallowRef, watch, type Ref } from 'vue'
import { api } from '@/lib/api'
import { sumIntervals, type IntervalPoint } from './model'
import { STATS } from './useWallboard'

const THROTTLE_MS = 5_000
const RETRY_MS = 3_000

interface IntervalPage {
  interval_minutes: number
  timezone: string
  items: Record<string, unknown>[]
}

export function useIntervals(statsApi: Ref<boolean | null>, version: Ref<number>) {
  const points = shallowRef<IntervalPoint[] | null>(null)
  const timeZone = ref<string | undefined>(undefined)
  const error = ref<unknown>(null)
  let last = 0
  let timer: ReturnType<typeof setTimeout> | null = null

  async function load(): Promise<void> {
    last = Date.now()
    try {
      const page = await api.get<IntervalPage>(STATS.intervals, { query: { kind: 'queue' } })
      timeZone.value = page.timezone
      points.value = sumIntervals(page.items, page.interval_minutes)
      error.value = null
    } catch (err) {
      // A wall screen keeps the bars it has through a server restart or network drop (the
      // live indicator says it is offline) and tries again; an error shows only without bars.
      if (points.value === null) error.value = err
      schedule(RETRY_MS)
    }
  }

  function schedule(delay = THROTTLE_MS): void {
    if (timer !== null || !statsApi.value) return
    const wait = Math.max(0, last + delay - Date.now())
    timer = setTimeout(() => {
      timer = null
      void load()
    }, wait)
  }

  watch(version, () => schedule())
  watch(statsApi, (yes) => {
    if (yes && points.value === null) void load()
  }, { immediate: true })
  onUnmounted(() => {
    if (timer !== null) clearTimeout(timer)
  })
  return { points, timeZone, error, reload: load }
}
