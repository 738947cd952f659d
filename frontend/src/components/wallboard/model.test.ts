import { describe, expect, it } from 'vitest'
import { chartOption } from './chartOption'
import {
  abandonLevel,
  abandonRate,
  agentFromOut,
  applyAgentEvent,
  clockDuration,
  mergeAgentLive,
  queueFromConfig,
  queueFromLive,
  secondsSince,
  serviceLevelLevel,
  stateTimeLevel,
  sumIntervals,
  waitLevel,
  worst,
  type AgentOut,
} from './model'

const agentOut: AgentOut = {
  user_id: 'a1',
  username: 'agent1',
  display_name: 'Agent1',
  org_unit_id: 'u1',
  has_profile: true,
  state: 'ready',
  reason: null,
  state_since: '2026-01-05T08:00:00+00:00',
  seat: 'A-01',
  pending_reason: null,
  logout_request: null,
}

describe('thresholds', () => {
  it('colours the service level against its target', () => {
    expect(serviceLevelLevel(null, 80)).toBe('none')
    expect(serviceLevelLevel(80, 80)).toBe('ok')
    expect(serviceLevelLevel(76, 80)).toBe('warn')
    expect(serviceLevelLevel(74.9, 80)).toBe('bad')
  })

  it('colours the longest wait against the queue’s service-level seconds', () => {
    expect(waitLevel(null, 20)).toBe('none')
    expect(waitLevel(9, 20)).toBe('ok')
    expect(waitLevel(10, 20)).toBe('warn')
    expect(waitLevel(20, 20)).toBe('bad')
  })

  it('computes and colours the abandon rate', () => {
    expect(abandonRate({ offered: 0, answered: 0, abandoned: 0 })).toBeNull()
    expect(abandonRate({ offered: 3, answered: 2, abandoned: 1 })).toBe(33.3)
    expect(abandonLevel(null)).toBe('none')
    expect(abandonLevel(4.9)).toBe('ok')
    expect(abandonLevel(5)).toBe('warn')
    expect(abandonLevel(10)).toBe('bad')
  })

  it('flags long not-ready spells only', () => {
    expect(stateTimeLevel('busy', 3600)).toBe('none')
    expect(stateTimeLevel('not_ready', 60)).toBe('ok')
    expect(stateTimeLevel('not_ready', 300)).toBe('warn')
    expect(stateTimeLevel('not_ready', 900)).toBe('bad')
    expect(worst('ok', 'bad', 'warn')).toBe('bad')
    expect(worst()).toBe('none')
  })
})

describe('durations', () => {
  it('counts seconds since an instant, never negative', () => {
    const now = Date.parse('2026-01-05T08:01:05Z')
    expect(secondsSince('2026-01-05T08:00:00Z', now)).toBe(65)
    expect(secondsSince('2026-01-05T09:00:00Z', now)).toBe(0)
    expect(secondsSince(null, now)).toBeNull()
  })

  it('prints wallboard clocks', () => {
    expect(clockDuration(null)).toBe('–')
    expect(clockDuration(7)).toBe('0:07')
    expect(clockDuration(754)).toBe('12:34')
    expect(clockDuration(3723)).toBe('1:02:03')
  })
})

describe('rows', () => {
  it('turns a queue configuration with stats into a row whose wait can tick', () => {
    const now = Date.parse('2026-01-05T08:00:30Z')
    const row = queueFromConfig(
      {
        id: 'q1',
        code: 'faults',
        name: '故障报修',
        org_unit_id: 'u1',
        service_level_seconds: 20,
        service_level_percent: 80,
        stats: {
          waiting: 2,
          offered: 5,
          connected: 1,
          longest_wait_seconds: 30,
          answered: 2,
          answered_within_target: 1,
          abandoned: 1,
          service_level_percent: 50,
          service_level_target_percent: 80,
        },
      },
      now,
    )
    expect(row.oldest_waiting_since).toBe('2026-01-05T08:00:00.000Z')
    expect(row.today).toEqual({ offered: 5, answered: 2, abandoned: 1 })
    expect(row.agents).toBeNull()
  })

  it('reads a live statistics row (the stats.queue payload)', () => {
    const row = queueFromLive({
      queue_id: 'q1',
      code: 'faults',
      name: '故障报修',
      org_unit_id: 'u1',
      waiting: 3,
      oldest_waiting_since: '2026-01-05T08:00:00+00:00',
      offering: 0,
      connected: 1,
      today: { offered: 9, answered: 5, abandoned: 1 },
      last_15: { offered: 2, answered: 1, abandoned: 0 },
      last_30: { offered: 4, answered: 2, abandoned: 0 },
      service_level_percent: 83.33,
      service_level_target_percent: 80,
      service_level_seconds: 20,
      asa_seconds: 4.5,
      aht_seconds: 120,
      agents: { ready: 1, busy: 1 },
    })
    expect(row.waiting).toBe(3)
    expect(row.last_15?.offered).toBe(2)
    expect(row.agents?.ready).toBe(1)
  })

  it('applies agent events to a row', () => {
    const row = agentFromOut(agentOut)
    const at = '2026-01-05T08:05:00+00:00'
    const nr = applyAgentEvent(row, 'agent.state_changed', at, {
      old: 'ready',
      new: 'not_ready',
      reason: 'supervisor',
      seat: 'A-01',
    })
    expect(nr).toMatchObject({ state: 'not_ready', reason: 'supervisor', state_since: at })
    const asked = applyAgentEvent(nr!, 'agent.logout_requested', at, {
      request_id: 'r1',
      cause: 'waiting',
    })
    expect(asked?.logout_request).toEqual({
      id: 'r1',
      requested_at: at,
      cause: 'waiting',
      status: 'pending',
    })
    expect(applyAgentEvent(asked!, 'agent.logout_decided', at, {})?.logout_request).toBeNull()
    expect(applyAgentEvent(row, 'agent.seat_changed', at, { new_seat: 'B-2' })?.seat).toBe('B-2')
    expect(applyAgentEvent(row, 'agent.something_else', at, {})).toBeNull()
  })

  it('lays statistics over a supervised agent, keeping its logout request', () => {
    const row = { ...agentFromOut(agentOut), logout_request: null }
    const asked = applyAgentEvent(row, 'agent.logout_requested', 'x', { request_id: 'r' })!
    const merged = mergeAgentLive(asked, {
      agent_id: 'a1',
      state: 'busy',
      state_since: '2026-01-05T08:06:00+00:00',
      handled_today: 4,
      occupancy_percent: 71.5,
      aht_seconds: null,
    })
    expect(merged.state).toBe('busy')
    expect(merged.handled_today).toBe(4)
    expect(merged.logout_request?.id).toBe('r')
    expect(merged.seat).toBe('A-01')
  })
})

describe("today's intervals", () => {
  it('sums rows per interval, fills gaps, computes the service level', () => {
    const points = sumIntervals(
      [
        { interval_start: '2026-01-05T08:30:00+00:00', offered: 2, answered: 1, answered_in_sl: 1, abandoned: 1, abandoned_short: 0 },
        { interval_start: '2026-01-05T08:00:00+00:00', offered: 3, answered: 2, answered_in_sl: 1, abandoned: 1, abandoned_short: 1 },
        { interval_start: '2026-01-05T08:00:00+00:00', offered: 1, answered: 1, answered_in_sl: 1, abandoned: 0, abandoned_short: 0 },
      ],
      15,
    )
    expect(points.map((p) => [p.offered, p.answered, p.abandoned, p.service_level_percent])).toEqual([
      [4, 3, 1, 66.67],
      [0, 0, 0, null],
      [2, 1, 1, 50],
    ])
    expect(Date.parse(points[1]!.start)).toBe(Date.parse('2026-01-05T08:15:00Z'))
  })

  it('builds a chart with bars and a service level line on its own axis', () => {
    const option = chartOption(
      [{ start: 'x', offered: 1, answered: 1, abandoned: 0, service_level_percent: 100 }],
      ['08:00'],
      { offered: 'O', answered: 'A', abandoned: 'X', serviceLevel: 'SL', count: 'n', tv: false },
    )
    expect(option.series.map((s) => s.type)).toEqual(['bar', 'bar', 'bar', 'line'])
    expect(option.series[3]).toMatchObject({ yAxisIndex: 1, data: [100] })
    expect(option.xAxis.data).toEqual(['08:00'])
  })
})
