import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { effectScope, ref } from 'vue'
import { useIdleTimer } from './idle'

describe('idle timer', () => {
  beforeEach(() => {
    vi.useFakeTimers()
    window.localStorage.clear()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  function start(timeout: number | null) {
    const scope = effectScope()
    const expired = vi.fn()
    const timer = scope.run(() => useIdleTimer(ref(timeout), expired, () => Date.now()))!
    return { scope, expired, timer }
  }

  it('warns before the timeout and then signs out', () => {
    const { scope, expired, timer } = start(120)
    vi.advanceTimersByTime(61_000)
    expect(timer.warning.value).toBe(true)
    expect(expired).not.toHaveBeenCalled()
    vi.advanceTimersByTime(60_000)
    expect(expired).toHaveBeenCalledOnce()
    scope.stop()
  })

  it('never warns nor signs out a display session (no idle timeout)', () => {
    const { scope, expired, timer } = start(null)
    vi.advanceTimersByTime(8 * 24 * 3600 * 1000)
    expect(timer.warning.value).toBe(false)
    expect(expired).not.toHaveBeenCalled()
    scope.stop()
  })
})
