import { describe, expect, it } from 'vitest'
import { ApiError } from '@/lib/api'
import {
  buildRequest,
  dayRange,
  dayVolumes,
  emptyForm,
  fillMinutes,
  formatVolumes,
  parseVolumes,
  placeProblem,
  summarize,
  todayIn,
  zonedMidnight,
  type IntervalRow,
} from './staffing'
import { staffingChartOption } from './staffingChart'

describe('parseVolumes', () => {
  it('reads numbers separated by spaces, commas and new lines', () => {
    expect(parseVolumes('100 120,95\n80\t 0.5 , 7')).toEqual({ ok: true, values: [100, 120, 95, 80, 0.5, 7] })
  })

  it('takes full-width commas, 、 and semicolons (a Chinese keyboard, a spreadsheet paste)', () => {
    expect(parseVolumes('10，20、30；40;50')).toEqual({ ok: true, values: [10, 20, 30, 40, 50] })
  })

  it('ignores separators at the ends and accepts 0 and decimals', () => {
    expect(parseVolumes('\n , 0 1.25 .5 3. \n')).toEqual({ ok: true, values: [0, 1.25, 0.5, 3] })
  })

  it('reports the first bad token with its number, line and column', () => {
    const r = parseVolumes('100 120\n95 abc 80 x')
    expect(r).toEqual({
      ok: false,
      error: { kind: 'notNumber', token: 'abc', index: 4, line: 2, column: 4 },
    })
  })

  it('counts columns in characters people see', () => {
    const r = parseVolumes('1，2，三')
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.error).toMatchObject({ token: '三', index: 3, line: 1, column: 5 })
  })

  it('refuses negative numbers, thousands separators inside a token and exponents', () => {
    for (const [text, token] of [
      ['5 -3', '-3'],
      ['1.000.0', '1.000.0'],
      ['1e3', '1e3'],
      ['12%', '12%'],
    ] as const) {
      const r = parseVolumes(text)
      expect(r.ok).toBe(false)
      if (!r.ok) expect(r.error).toMatchObject({ kind: 'notNumber', token })
    }
  })

  it('refuses a volume over the API bound and too many intervals', () => {
    const big = parseVolumes('1 10000001')
    expect(big.ok).toBe(false)
    if (!big.ok) expect(big.error).toMatchObject({ kind: 'tooLarge', index: 2, column: 3 })
    expect(parseVolumes('10000000').ok).toBe(true)
    const many = parseVolumes(Array.from({ length: 10_001 }, () => '1').join(' '))
    expect(many.ok).toBe(false)
    if (!many.ok) expect(many.error).toMatchObject({ kind: 'tooMany', index: 10_001 })
    expect(parseVolumes(Array.from({ length: 10_000 }, () => '1').join('\n')).ok).toBe(true)
  })

  it('says when the list is empty', () => {
    for (const text of ['', '  \n ,, ']) {
      const r = parseVolumes(text)
      expect(r.ok).toBe(false)
      if (!r.ok) expect(r.error.kind).toBe('empty')
    }
  })

  it('reads back what formatVolumes writes (one line per hour)', () => {
    const values = [1, 2, 3, 4, 5, 6]
    expect(formatVolumes(values, 15)).toBe('1 2 3 4\n5 6')
    expect(formatVolumes(values, 30)).toBe('1 2\n3 4\n5 6')
    expect(formatVolumes([7, 8], 60)).toBe('7\n8')
    expect(parseVolumes(formatVolumes(values, 15))).toEqual({ ok: true, values })
  })
})

describe('a day in a time zone', () => {
  it('starts at local midnight', () => {
    expect(zonedMidnight('2026-11-28', 'Asia/Shanghai').toISOString()).toBe('2026-11-27T16:00:00.000Z')
    expect(zonedMidnight('2026-11-28', 'UTC').toISOString()).toBe('2026-11-28T00:00:00.000Z')
  })

  it('has 23 or 25 hours on a DST change', () => {
    const spring = dayRange('2026-03-29', 'Europe/Berlin')
    expect(spring.start.toISOString()).toBe('2026-03-28T23:00:00.000Z')
    expect((spring.end.getTime() - spring.start.getTime()) / 3_600_000).toBe(23)
    const autumn = dayRange('2026-10-25', 'Europe/Berlin')
    expect(autumn.start.toISOString()).toBe('2026-10-24T22:00:00.000Z')
    expect((autumn.end.getTime() - autumn.start.getTime()) / 3_600_000).toBe(25)
  })

  it('knows today in the zone', () => {
    const at = new Date('2026-11-28T17:30:00Z') // 01:30 the next day in Shanghai
    expect(todayIn('Asia/Shanghai', at)).toBe('2026-11-29')
    expect(todayIn('UTC', at)).toBe('2026-11-28')
  })
})

describe('dayVolumes (interval rows → one volume per interval)', () => {
  const range = dayRange('2026-11-28', 'Asia/Shanghai') // 2026-11-27T16:00Z – 2026-11-28T16:00Z
  const row = (key: string, start: string, offered: number, handled = 0, handle_ms = 0, wrap_up_ms = 0): IntervalRow => ({
    key,
    interval_start: start,
    offered,
    handled,
    handle_ms,
    wrap_up_ms,
  })
  const rows = [
    row('q1', '2026-11-27T16:00:00Z', 3, 2, 300_000, 60_000), // 00:00 local
    row('q1', '2026-11-28T00:30:00+00:00', 5, 4, 600_000, 120_000), // 08:30 local
    row('q1', '2026-11-28T00:45:00Z', 2), // 08:45 local
    row('q2', '2026-11-28T00:30:00Z', 99, 9, 999_000, 0), // another queue
    row('q1', '2026-11-28T16:00:00Z', 50), // the next day
    row('q1', '2026-11-27T15:45:00Z', 40), // the day before
  ]

  it('puts each row in its interval and counts missing intervals as 0', () => {
    const day = dayVolumes(rows, 'q1', range, 15)
    expect(day.calls).toHaveLength(96)
    expect(day.calls[0]).toBe(3)
    expect(day.calls[34]).toBe(5) // 08:30
    expect(day.calls[35]).toBe(2) // 08:45
    expect(day.calls.reduce((a, b) => a + b, 0)).toBe(10)
    expect(day.starts[34]).toBe('2026-11-28T00:30:00.000Z')
  })

  it('sums the server rows into longer intervals', () => {
    const half = dayVolumes(rows, 'q1', range, 30)
    expect(half.calls).toHaveLength(48)
    expect(half.calls[17]).toBe(7) // 08:30–09:00
    const hour = dayVolumes(rows, 'q1', range, 60)
    expect(hour.calls).toHaveLength(24)
    expect(hour.calls[8]).toBe(7)
    expect(hour.calls[0]).toBe(3)
  })

  it('takes the AHT as (handle + wrap-up) / handled', () => {
    const day = dayVolumes(rows, 'q1', range, 15)
    expect(day.handled).toBe(6)
    expect(day.ahtSeconds).toBe(180) // (360 s + 720 s) / 6
  })

  it('has no AHT when nothing was handled, and all zeros without rows', () => {
    const day = dayVolumes([], 'q1', range, 30)
    expect(day.ahtSeconds).toBeNull()
    expect(day.calls).toEqual(new Array(48).fill(0))
  })

  it('follows a 25-hour day', () => {
    const autumn = dayRange('2026-10-25', 'Europe/Berlin')
    expect(dayVolumes([], 'q1', autumn, 30).calls).toHaveLength(50)
  })

  it('fills with the server interval when the chosen one cannot be made of it', () => {
    expect(fillMinutes(60, 15)).toBe(60)
    expect(fillMinutes(30, 15)).toBe(30)
    expect(fillMinutes(60, 30)).toBe(60)
    expect(fillMinutes(15, 30)).toBe(30)
  })
})

describe('the form', () => {
  it('builds the request of the published check (100 calls, 30 min, AHT 180 s, 80/20)', () => {
    const form = { ...emptyForm(30), volumes: '100' }
    expect(buildRequest(form)).toEqual({
      ok: true,
      body: { calls: [100], interval_seconds: 1800, aht_seconds: 180, sl_seconds: 20, sl_percent: 80 },
    })
  })

  it('adds patience (Erlang A) and maximum occupancy only when given', () => {
    const form = { ...emptyForm(15), volumes: '1 2', patienceSeconds: 60, maxOccupancyPercent: 85 }
    const r = buildRequest(form)
    expect(r.ok && r.body).toMatchObject({ interval_seconds: 900, patience_seconds: 60, max_occupancy_percent: 85 })
  })

  it('refuses what the API would refuse, by field', () => {
    const form = {
      ...emptyForm(30),
      ahtSeconds: null,
      slPercent: 100,
      slSeconds: -1,
      patienceSeconds: 0,
      maxOccupancyPercent: 101,
      volumes: '1 x',
    }
    const r = buildRequest(form)
    expect(r.ok).toBe(false)
    if (!r.ok) {
      expect(r.problems).toEqual({
        aht: { key: 'required' },
        slPercent: { key: 'range', params: { min: 1, max: 99.9 } },
        slSeconds: { key: 'range', params: { min: 0, max: 3600 } },
        patience: { key: 'range', params: { min: 1, max: 86400 } },
        occupancy: { key: 'range', params: { min: 1, max: 100 } },
        volumes: {
          key: 'notNumber',
          params: { token: 'x', n: 2, line: 1, column: 3, max: 10_000_000 },
        },
      })
    }
  })

  it('puts the API model’s complaints at their fields', () => {
    const err = new ApiError({
      status: 422,
      code: 'invalid_input',
      key: 'errors.invalid_input',
      errors: [
        { field: 'calls.3', message: 'Input should be less than or equal to 10000000' },
        { field: 'aht_seconds', message: 'Input should be greater than or equal to 1' },
      ],
    })
    expect(placeProblem(err)).toEqual({
      fields: {
        volumes: { key: 'serverVolume', params: { n: 4, max: 10_000_000 } },
        aht: { key: 'range', params: { min: 1, max: 86_400 } },
      },
      general: false,
      unsolvable: false,
    })
  })

  it('puts a domain error with a field there, and tells an unsolvable input apart', () => {
    const domain = new ApiError({
      status: 422,
      code: 'invalid_input',
      key: 'errors.invalid_input',
      field: 'sl_percent',
    })
    expect(placeProblem(domain).fields).toEqual({ slPercent: { key: 'range', params: { min: 1, max: 99.9 } } })
    const unsolvable = new ApiError({ status: 422, code: 'invalid_input', key: 'errors.invalid_input' })
    expect(placeProblem(unsolvable)).toEqual({ fields: {}, general: false, unsolvable: true })
    const other = new ApiError({ status: 403, code: 'permission_denied', key: 'errors.permission_denied' })
    expect(placeProblem(other)).toEqual({ fields: {}, general: true, unsolvable: false })
    const unknown = new ApiError({
      status: 422,
      code: 'invalid_input',
      key: 'errors.invalid_input',
      errors: [{ field: 'bogus', message: 'Extra inputs are not permitted' }],
    })
    expect(placeProblem(unknown).general).toBe(true)
  })
})

describe('the result', () => {
  const row = (calls: number, agents: number) => ({
    calls,
    agents,
    load_erlangs: 0,
    p_wait: 0,
    service_level: 1,
    asa_seconds: 0,
    occupancy: 0,
    p_abandon: null,
  })

  it('summarises peak agents and agent-hours', () => {
    expect(summarize([row(100, 14), row(50, 8), row(0, 0)], 30)).toEqual({ peakAgents: 14, agentHours: 11, calls: 150 })
    expect(summarize([row(100, 14)], 15).agentHours).toBe(3.5)
    expect(summarize([], 30).peakAgents).toBe(0)
  })

  it('charts calls as bars and agents as a line on the second axis', () => {
    const option = staffingChartOption(['08:00', '08:30'], [100, 50], [14, 8], { calls: 'Calls', agents: 'Agents' })
    expect(option.xAxis.data).toEqual(['08:00', '08:30'])
    expect(option.series.map((s) => [s.type, s.data])).toEqual([
      ['bar', [100, 50]],
      ['line', [14, 8]],
    ])
    expect(option.series[1]?.yAxisIndex).toBe(1)
  })
})
