import { describe, expect, it } from 'vitest'
import { ApiError } from '@/lib/api'
import { i18n } from '@/i18n'
import { problemMessage } from '@/lib/format'
import en from '@/i18n/en'
import zhCN from '@/i18n/zh-CN'
import {
  calendarToForm,
  copyMondayToWeekdays,
  emptyCalendarForm,
  formToBody,
  newSpan,
  normaliseField,
  placeProblem,
  rowKey,
  shownFields,
  validateCalendarForm,
  weekSummary,
  zoneOffset,
  type Calendar,
  type CalendarForm,
  type SpanRow,
} from './calendarForm'

const rows = (...pairs: [string, string][]): SpanRow[] => pairs.map(([start, end]) => ({ key: rowKey(), start, end }))

function form(patch: Partial<CalendarForm> = {}): CalendarForm {
  return { ...emptyCalendarForm(), code: 'office', name: '营业厅', ...patch }
}

const CAL: Calendar = {
  id: 'c1',
  code: 'office',
  name: '工作日营业时间',
  timezone: 'Asia/Shanghai',
  weekly: {
    mon: [['08:30', '12:00'], ['13:30', '18:00']],
    tue: [['08:30', '12:00'], ['13:30', '18:00']],
    wed: [['08:30', '12:00'], ['13:30', '18:00']],
    thu: [['08:30', '12:00'], ['13:30', '18:00']],
    fri: [['08:30', '12:00'], ['13:30', '18:00']],
    sat: [['09:00', '12:00']],
    sun: [],
  },
  overrides: [
    { date: '2027-01-01', hours: [], note: '元旦' },
    { date: '2027-02-07', hours: [['09:00', '17:00']], note: '调休' },
  ],
  created_at: '2026-01-05T08:00:00Z',
  updated_at: '2026-01-05T08:00:00Z',
  open_now: true,
  next_change: '2026-01-05T10:00:00Z',
}

describe('calendar form', () => {
  it('round-trips a calendar to the request body', () => {
    const body = formToBody(calendarToForm(CAL))
    expect(body).toEqual({ name: CAL.name, timezone: CAL.timezone, weekly: CAL.weekly, overrides: CAL.overrides })
  })

  it('starts with weekday office hours in Asia/Shanghai', () => {
    const body = formToBody(emptyCalendarForm())
    expect(body.timezone).toBe('Asia/Shanghai')
    expect(body.weekly.mon).toEqual([['09:00', '18:00']])
    expect(body.weekly.fri).toEqual([['09:00', '18:00']])
    expect(body.weekly.sat).toEqual([])
  })

  it('sends no spans for a day closed all day, whatever spans were typed before', () => {
    const f = calendarToForm(CAL)
    f.overrides[1]!.closed = true
    expect(formToBody(f).overrides[1]!.hours).toEqual([])
  })

  it('copies Monday to Tuesday–Friday as separate rows', () => {
    const f = form()
    f.weekly.mon = rows(['08:30', '12:00'], ['13:30', '18:00'])
    f.weekly.sat = rows(['09:00', '12:00'])
    copyMondayToWeekdays(f)
    expect(formToBody(f).weekly.thu).toEqual([['08:30', '12:00'], ['13:30', '18:00']])
    expect(formToBody(f).weekly.sat).toEqual([['09:00', '12:00']])
    f.weekly.tue[0]!.start = '07:00'
    expect(f.weekly.mon[0]!.start).toBe('08:30')
  })

  it('adds a span after the last one, within the day', () => {
    expect(newSpan([])).toMatchObject({ start: '09:00', end: '18:00' })
    expect(newSpan(rows(['08:30', '12:00']))).toMatchObject({ start: '13:00', end: '14:00' })
    expect(newSpan(rows(['20:00', '24:00']))).toMatchObject({ start: '23:00', end: '24:00' })
  })
})

describe('calendar checks (as the API makes them)', () => {
  it('accepts a good calendar, touching spans and 24:00', () => {
    const f = calendarToForm(CAL)
    f.weekly.sun = rows(['00:00', '08:00'], ['08:00', '24:00'])
    expect(validateCalendarForm(f, { creating: true })).toEqual({})
  })

  it('refuses a span that does not start before it ends, on that span', () => {
    const f = form()
    f.weekly.tue = rows(['09:00', '12:00'], ['18:00', '09:00'])
    expect(validateCalendarForm(f, { creating: true })).toEqual({ 'weekly.tue.1': { key: 'startBeforeEnd' } })
  })

  it('refuses overlapping spans, on the day', () => {
    const f = form()
    f.weekly.mon = rows(['13:00', '18:00'], ['09:00', '13:30'])
    expect(validateCalendarForm(f, { creating: true })).toEqual({
      'weekly.mon': { key: 'overlap', params: { a: '09:00–13:30', b: '13:00–18:00' } },
    })
  })

  it('refuses badly typed times and too many spans', () => {
    const f = form()
    f.weekly.wed = rows(['9:00', '12:00'])
    f.weekly.thu = rows(...Array.from({ length: 9 }, (_, i) => [`0${i}:00`, `0${i}:30`] as [string, string]))
    expect(validateCalendarForm(f, { creating: true })).toEqual({
      'weekly.wed.0': { key: 'time' },
      'weekly.thu': { key: 'tooManySpans', params: { max: 8 } },
    })
  })

  it('checks code (on create only), name and the special dates', () => {
    const f = form({ code: 'Office', name: ' ' })
    f.overrides = [
      { key: rowKey(), date: '2027-01-01', closed: true, spans: [], note: 'x'.repeat(101) },
      { key: rowKey(), date: '2027-01-01', closed: true, spans: [], note: '' },
      { key: rowKey(), date: '', closed: false, spans: [], note: '' },
      { key: rowKey(), date: '2027-02-07', closed: false, spans: rows(['09:00', '12:00'], ['11:00', '17:00']), note: '' },
    ]
    expect(validateCalendarForm(f, { creating: true })).toEqual({
      code: { key: 'code' },
      name: { key: 'required' },
      'overrides.0.note': { key: 'tooLong', params: { max: 100 } },
      'overrides.1.date': { key: 'dateTwice', params: { date: '2027-01-01' } },
      'overrides.2.date': { key: 'required' },
      'overrides.2': { key: 'needSpans' },
      'overrides.3': { key: 'overlap', params: { a: '09:00–12:00', b: '11:00–17:00' } },
    })
    expect(validateCalendarForm(f, { creating: false }).code).toBeUndefined()
  })
})

describe('server problems on the form', () => {
  const f = calendarToForm(CAL)
  const shown = shownFields(f, { creating: true })
  const place = (err: unknown) => placeProblem(err, shown, problemMessage, (m) => `invalid: ${m}`)
  const problem = (p: Record<string, unknown>) =>
    new ApiError({ status: 422, code: 'invalid_input', key: 'errors.invalid_input', ...p })

  it('reads the domain’s and the models’ field names alike', () => {
    expect(normaliseField('weekly.mon[0]')).toBe('weekly.mon.0')
    expect(normaliseField('overrides[2]')).toBe('overrides.2')
    expect(normaliseField('body.overrides.0.hours.1.0')).toBe('overrides.0.hours.1.0')
  })

  it('puts a domain error on its field, translated', () => {
    i18n.global.locale.value = 'zh-CN'
    const placed = place(problem({ key: 'errors.calendar.spans_overlap', field: 'weekly.mon' }))
    expect(placed).toEqual({ fields: { 'weekly.mon': '营业时段相互重叠。' }, general: '' })
    expect(place(problem({ key: 'errors.calendar.timezone_invalid', field: 'timezone' })).fields.timezone).toContain('时区')
    expect(place(problem({ key: 'errors.calendar.span_invalid', field: 'overrides[1]' })).fields).toHaveProperty('overrides.1')
    expect(place(problem({ key: 'errors.calendar.exists', field: 'code', status: 409 })).fields.code).toBe(
      '已有这个代码的营业时间。',
    )
  })

  it('walks a models’ error up to the nearest field shown', () => {
    const placed = place(
      problem({ errors: [{ field: 'weekly.mon.0.1', message: 'bad' }, { field: 'overrides.1.hours.0.0', message: 'no' }] }),
    )
    expect(placed.fields).toEqual({ 'weekly.mon.0': 'invalid: bad', 'overrides.1.hours.0': 'invalid: no' })
    // a code is not on an edit form: the problem goes to the top
    const edit = placeProblem(problem({ field: 'code', key: 'errors.calendar.exists' }), shownFields(f, { creating: false }), problemMessage, (m) => m)
    expect(edit).toEqual({ fields: {}, general: '已有这个代码的营业时间。' })
  })
})

describe('reading a calendar', () => {
  it('joins days with the same hours', () => {
    const zh = weekSummary(CAL.weekly, (d) => zhCN.calendars.weekdays[d], (a, b) => `${a}至${b}`, '、')
    expect(zh).toEqual(['周一至周五 08:30–12:00、13:30–18:00', '周六 09:00–12:00'])
    const weekend = { ...CAL.weekly, mon: [], tue: [], wed: [], thu: [], fri: [], sun: [['09:00', '12:00']] as [string, string][] }
    expect(weekSummary(weekend, (d) => en.calendars.weekdays[d], (a, b) => `${a}–${b}`, ', ')).toEqual([
      'Sat, Sun 09:00–12:00',
    ])
  })

  it('names a zone’s offset', () => {
    expect(zoneOffset('Asia/Shanghai')).toBe('UTC+08:00')
    expect(zoneOffset('UTC')).toBe('UTC+00:00')
    expect(zoneOffset('Mars/Olympus')).toBe('')
  })

  it('translates every calendar error key the API sends', () => {
    const keys = [
      'exists', 'not_found', 'note_too_long', 'override_twice', 'span_invalid', 'spans_overlap',
      'time_invalid', 'timezone_invalid', 'too_many_overrides', 'too_many_spans', 'weekday_invalid',
    ]
    for (const locale of ['zh-CN', 'en'] as const) {
      i18n.global.locale.value = locale
      expect(keys.filter((k) => !i18n.global.te(`errors.calendar.${k}`))).toEqual([])
    }
    i18n.global.locale.value = 'zh-CN'
  })
})
