// Business calendars (营业时间): the API's shapes (src/hotline/api/calendars.py), the editor's
// state, the checks the API makes (so the form refuses what the server would refuse before
// sending it) and where a server's complaint goes on the form. Kept apart from the components
// so the rules are unit-tested.
import { ApiError } from '@/lib/api'

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const
export type Weekday = (typeof WEEKDAYS)[number]
/** "Copy Monday to weekdays" fills these. */
export const WORKDAYS: readonly Weekday[] = ['tue', 'wed', 'thu', 'fri']

/** Bounds of domains/calendars/model.py and api/calendars.py. */
export const LIMITS = {
  spansPerDay: 8,
  overrides: 400,
  note: 100,
  name: 200,
  timezone: 64,
} as const

/** A code: a lower-case letter, then lower-case letters, digits, '_' or '-' (≤ 64). */
export const CODE_RE = /^[a-z][a-z0-9_-]{0,63}$/
/** HH:MM from 00:00 to 24:00 (a span may end at midnight). */
export const TIME_RE = /^(([01]\d|2[0-3]):[0-5]\d|24:00)$/
export const DATE_RE = /^\d{4}-\d{2}-\d{2}$/
export const DEFAULT_TIMEZONE = 'Asia/Shanghai'

/**
 * The time zones offered (filterable); a calendar keeps any other IANA zone it already has.
 * Mainland China has one zone; the rest are where a group's branches or partners commonly are.
 */
export const COMMON_TIMEZONES = [
  'Asia/Shanghai',
  'Asia/Urumqi',
  'Asia/Hong_Kong',
  'Asia/Macau',
  'Asia/Taipei',
  'Asia/Tokyo',
  'Asia/Seoul',
  'Asia/Singapore',
  'Asia/Kuala_Lumpur',
  'Asia/Bangkok',
  'Asia/Ho_Chi_Minh',
  'Asia/Jakarta',
  'Asia/Manila',
  'Asia/Kolkata',
  'Asia/Dubai',
  'Asia/Almaty',
  'Asia/Tashkent',
  'Europe/Moscow',
  'Europe/Istanbul',
  'Europe/Berlin',
  'Europe/Paris',
  'Europe/London',
  'Africa/Cairo',
  'Africa/Johannesburg',
  'America/New_York',
  'America/Chicago',
  'America/Denver',
  'America/Los_Angeles',
  'America/Sao_Paulo',
  'Australia/Sydney',
  'Pacific/Auckland',
  'UTC',
] as const

// --- the API's shapes ------------------------------------------------------------------------
export type SpanPair = [string, string]

export interface CalendarOverride {
  date: string
  hours: SpanPair[]
  note: string
}

export interface Calendar {
  id: string
  code: string
  name: string
  timezone: string
  weekly: Record<Weekday, SpanPair[]>
  overrides: CalendarOverride[]
  created_at: string
  updated_at: string
  open_now: boolean
  next_change: string | null
}

export interface CalendarPage {
  items: Calendar[]
  next_after: string | null
}

export interface OpenStatus {
  open: boolean
  next_change: string | null
}

/** What PUT /api/calendars/{id} takes (POST adds `code`). */
export interface CalendarBody {
  name: string
  timezone: string
  weekly: Record<Weekday, SpanPair[]>
  overrides: CalendarOverride[]
}

// --- the editor's state ----------------------------------------------------------------------
let nextKey = 1
/** A stable key for v-for: rows are added and removed. */
export const rowKey = (): number => nextKey++

export interface SpanRow {
  key: number
  start: string
  end: string
}

export interface OverrideRow {
  key: number
  date: string
  /** true: closed all day (a public holiday); false: open during `spans` (调休, short day). */
  closed: boolean
  spans: SpanRow[]
  note: string
}

export interface CalendarForm {
  code: string
  name: string
  timezone: string
  weekly: Record<Weekday, SpanRow[]>
  overrides: OverrideRow[]
}

const span = (start: string, end: string): SpanRow => ({ key: rowKey(), start, end })

/** A new calendar: office hours on weekdays, closed at the weekend. */
export function emptyCalendarForm(): CalendarForm {
  const weekly = Object.fromEntries(WEEKDAYS.map((d) => [d, [] as SpanRow[]])) as Record<Weekday, SpanRow[]>
  for (const d of ['mon', ...WORKDAYS] as Weekday[]) weekly[d] = [span('09:00', '18:00')]
  return { code: '', name: '', timezone: DEFAULT_TIMEZONE, weekly, overrides: [] }
}

export function calendarToForm(cal: Calendar): CalendarForm {
  const weekly = Object.fromEntries(
    WEEKDAYS.map((d) => [d, (cal.weekly[d] ?? []).map(([s, e]) => span(s, e))]),
  ) as Record<Weekday, SpanRow[]>
  return {
    code: cal.code,
    name: cal.name,
    timezone: cal.timezone,
    weekly,
    overrides: cal.overrides.map((o) => ({
      key: rowKey(),
      date: o.date,
      closed: o.hours.length === 0,
      spans: o.hours.map(([s, e]) => span(s, e)),
      note: o.note,
    })),
  }
}

/** The request body (PUT; POST adds the code). A closed day sends no spans. */
export function formToBody(form: CalendarForm): CalendarBody {
  const pairs = (rows: SpanRow[]): SpanPair[] => rows.map((r) => [r.start.trim(), r.end.trim()])
  return {
    name: form.name.trim(),
    timezone: form.timezone,
    weekly: Object.fromEntries(WEEKDAYS.map((d) => [d, pairs(form.weekly[d])])) as Record<Weekday, SpanPair[]>,
    overrides: form.overrides.map((o) => ({
      date: o.date,
      hours: o.closed ? [] : pairs(o.spans),
      note: o.note.trim(),
    })),
  }
}

export function minutes(time: string): number {
  const [h, m] = time.split(':').map(Number)
  return (h ?? 0) * 60 + (m ?? 0)
}

export function hhmm(total: number): string {
  const t = Math.max(0, Math.min(24 * 60, total))
  return `${String(Math.floor(t / 60)).padStart(2, '0')}:${String(t % 60).padStart(2, '0')}`
}

/** A span to add after the existing ones: 09:00–18:00 on an empty day, else an hour after the
 * last one ends (clipped to midnight). */
export function newSpan(rows: SpanRow[]): SpanRow {
  if (!rows.length) return span('09:00', '18:00')
  const last = Math.max(...rows.map((r) => (TIME_RE.test(r.end) ? minutes(r.end) : 0)))
  const start = Math.min(last + 60, 23 * 60)
  return span(hhmm(start), hhmm(Math.min(start + 60, 24 * 60)))
}

/** "Copy Monday to weekdays": Tuesday to Friday get Monday's spans (copies, not shared rows). */
export function copyMondayToWeekdays(form: CalendarForm): void {
  for (const d of WORKDAYS) form.weekly[d] = form.weekly.mon.map((r) => span(r.start, r.end))
}

// --- checks ----------------------------------------------------------------------------------
/** A problem found on the form: an i18n key under `calendars.validation` and its parameters. */
export interface FormProblem {
  key: string
  params?: Record<string, unknown>
}

/**
 * The spans of one day: each `[start, end)` valid and non-empty (at `${prefix}.${i}`), at most
 * LIMITS.spansPerDay, none overlapping another (at `path`, the day's row). Touching spans are
 * fine (a span ending at 24:00 joins the next day's from 00:00).
 */
function checkSpans(
  rows: SpanRow[],
  path: string,
  prefix: string,
  out: Record<string, FormProblem>,
): void {
  if (rows.length > LIMITS.spansPerDay) {
    out[path] = { key: 'tooManySpans', params: { max: LIMITS.spansPerDay } }
    return
  }
  const valid: { i: number; start: number; end: number }[] = []
  rows.forEach((r, i) => {
    const start = r.start.trim()
    const end = r.end.trim()
    if (!TIME_RE.test(start) || !TIME_RE.test(end)) out[`${prefix}.${i}`] = { key: 'time' }
    else if (minutes(start) >= minutes(end)) out[`${prefix}.${i}`] = { key: 'startBeforeEnd' }
    else valid.push({ i, start: minutes(start), end: minutes(end) })
  })
  valid.sort((a, b) => a.start - b.start || a.end - b.end)
  for (let k = 1; k < valid.length; k++) {
    const a = valid[k - 1]!
    const b = valid[k]!
    if (b.start < a.end) {
      out[path] = {
        key: 'overlap',
        params: { a: `${hhmm(a.start)}–${hhmm(a.end)}`, b: `${hhmm(b.start)}–${hhmm(b.end)}` },
      }
      return
    }
  }
}

/** Everything the API would refuse, by field path (`weekly.mon`, `overrides.0.date`…). */
export function validateCalendarForm(
  form: CalendarForm,
  opts: { creating: boolean },
): Record<string, FormProblem> {
  const out: Record<string, FormProblem> = {}
  if (opts.creating) {
    const code = form.code.trim()
    if (!code) out.code = { key: 'required' }
    else if (!CODE_RE.test(code)) out.code = { key: 'code' }
  }
  const name = form.name.trim()
  if (!name) out.name = { key: 'required' }
  else if (name.length > LIMITS.name) out.name = { key: 'tooLong', params: { max: LIMITS.name } }
  if (!form.timezone) out.timezone = { key: 'required' }
  for (const d of WEEKDAYS) checkSpans(form.weekly[d], `weekly.${d}`, `weekly.${d}`, out)
  if (form.overrides.length > LIMITS.overrides) {
    out.overrides = { key: 'tooManyOverrides', params: { max: LIMITS.overrides } }
  }
  const seen = new Set<string>()
  form.overrides.forEach((o, i) => {
    if (!o.date) out[`overrides.${i}.date`] = { key: 'required' }
    else if (!DATE_RE.test(o.date)) out[`overrides.${i}.date`] = { key: 'date' }
    else if (seen.has(o.date)) out[`overrides.${i}.date`] = { key: 'dateTwice', params: { date: o.date } }
    else seen.add(o.date)
    if (o.note.trim().length > LIMITS.note) {
      out[`overrides.${i}.note`] = { key: 'tooLong', params: { max: LIMITS.note } }
    }
    if (!o.closed) {
      if (!o.spans.length) out[`overrides.${i}`] = { key: 'needSpans' }
      else checkSpans(o.spans, `overrides.${i}`, `overrides.${i}.hours`, out)
    }
  })
  return out
}

// --- the server's complaints -----------------------------------------------------------------
/**
 * A problem's field in the form's terms: the domain names spans `weekly.mon[0]` and an
 * override's spans `overrides[2]`; the API's models `weekly.mon.0.1`, `overrides.2.hours.0`.
 */
export function normaliseField(field: string): string {
  return field
    .replace(/\[(\d+)\]/g, '.$1')
    .split('.')
    .filter((p) => p && p !== 'body')
    .join('.')
}

/** The field paths this form shows (where a server's complaint can be put). */
export function shownFields(form: CalendarForm, opts: { creating: boolean }): (path: string) => boolean {
  return (path) => {
    if (['name', 'timezone', 'weekly', 'overrides'].includes(path)) return true
    if (path === 'code') return opts.creating
    let m = /^weekly\.(\w+)(?:\.(\d+))?$/.exec(path)
    if (m) {
      const rows = form.weekly[m[1] as Weekday]
      return !!rows && (m[2] === undefined || Number(m[2]) < rows.length)
    }
    m = /^overrides\.(\d+)(?:\.(date|note|hours)(?:\.(\d+))?)?$/.exec(path)
    if (m) {
      const o = form.overrides[Number(m[1])]
      if (!o) return false
      if (m[2] !== 'hours') return true
      // an override's spans are shown on its row (`overrides.0`), each one at `hours.<j>`
      return m[3] !== undefined && !o.closed && Number(m[3]) < o.spans.length
    }
    return false
  }
}

/**
 * Where a server's complaint belongs: `problem.field` (a domain error) or each
 * `errors[].field` (a body the API's models refused), mapped to the nearest field the form
 * shows (`weekly.mon.0.1` → `weekly.mon.0`, else `weekly.mon`, else `weekly`). Messages come
 * from `message(err)` (the translated key) and `invalid(text)` (the models' own words); what
 * has no field on the form goes to `general`.
 */
export function placeProblem(
  err: unknown,
  shown: (path: string) => boolean,
  message: (err: unknown) => string,
  invalid: (text: string) => string,
): { fields: Record<string, string>; general: string } {
  const fields: Record<string, string> = {}
  const place = (field: string | null | undefined, text: string): boolean => {
    if (!field) return false
    let parts = normaliseField(field).split('.')
    while (parts.length && parts[0]) {
      const path = parts.join('.')
      if (shown(path)) {
        fields[path] = fields[path] ? `${fields[path]}; ${text}` : text
        return true
      }
      parts = parts.slice(0, -1)
    }
    return false
  }
  if (err instanceof ApiError) {
    const problem = err.problem
    if (problem.errors?.length) {
      let general = ''
      for (const e of problem.errors) if (!place(e.field, invalid(e.message))) general = message(err)
      return { fields, general }
    }
    if (place(problem.field, message(err))) return { fields, general: '' }
  }
  return { fields, general: message(err) }
}

// --- reading a calendar ----------------------------------------------------------------------
/**
 * A week in words: consecutive days with the same hours are joined (`周一至周五 08:30–18:00`),
 * closed days are left out. `dayName` and `range` come from the translations.
 */
export function weekSummary(
  weekly: Record<Weekday, SpanPair[]>,
  dayName: (d: Weekday) => string,
  range: (from: string, to: string) => string,
  sep: string,
): string[] {
  const text = (d: Weekday) => (weekly[d] ?? []).map(([s, e]) => `${s}–${e}`).join(sep)
  const out: string[] = []
  let i = 0
  while (i < WEEKDAYS.length) {
    const day = WEEKDAYS[i]!
    let j = i
    while (j + 1 < WEEKDAYS.length && text(WEEKDAYS[j + 1]!) === text(day)) j++
    if (text(day)) {
      const last = WEEKDAYS[j]!
      const days = i === j ? dayName(day) : j === i + 1 ? `${dayName(day)}${sep}${dayName(last)}` : range(dayName(day), dayName(last))
      out.push(`${days} ${text(day)}`)
    }
    i = j + 1
  }
  return out
}

/** The UTC offset of a zone now, as `UTC+08:00` (empty if the browser does not know it). */
export function zoneOffset(zone: string, at: Date = new Date()): string {
  try {
    const part = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' })
      .formatToParts(at)
      .find((p) => p.type === 'timeZoneName')?.value
    if (!part) return ''
    return part === 'GMT' ? 'UTC+00:00' : part.replace('GMT', 'UTC')
  } catch {
    return ''
  }
}
