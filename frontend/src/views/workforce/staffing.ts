// The staffing calculator's rules (排班测算, R-C7), apart from the component so they are
// unit-tested: the volume list parser, "fill from a day" (interval rows → one volume per
// interval), the form's checks against POST /api/workforce/staffing's bounds, where a server
// complaint belongs on the form, and the summary. No Vue, no requests.
import { ApiError } from '@/lib/api'

/** Bounds of StaffingIn (src/hotline/api/workforce.py). */
export const LIMITS = {
  intervals: 10_000,
  calls: 10_000_000,
  aht: { min: 1, max: 86_400 },
  slSeconds: { min: 0, max: 3_600 },
  slPercent: { min: 1, max: 99.9 },
  patience: { min: 1, max: 86_400 },
  occupancy: { min: 1, max: 100 },
} as const

export const INTERVAL_CHOICES = [15, 30, 60] as const
export type IntervalMinutes = (typeof INTERVAL_CHOICES)[number]

// --- the volume list ----------------------------------------------------------------------

export type ParseErrorKind = 'empty' | 'notNumber' | 'tooLarge' | 'tooMany'

export interface ParseError {
  kind: ParseErrorKind
  /** The offending token (empty for `empty` and `tooMany`). */
  token: string
  /** 1-based: which number in the list, and where it starts in the text. */
  index: number
  line: number
  column: number
}

export type ParseResult = { ok: true; values: number[] } | { ok: false; error: ParseError }

// Separators: white space (new lines included), ASCII and full-width commas, the ideographic
// enumeration comma and semicolons — what a list pasted from a spreadsheet or typed on a
// Chinese keyboard contains.
const TOKEN = /[^\s,，、;；]+/gu
const NUMBER = /^(?:\d+(?:\.\d*)?|\.\d+)$/

/**
 * Call volumes from free text: non-negative numbers (decimals allowed: forecasts are
 * fractional) separated by spaces, commas or new lines. Stops at the first bad token and says
 * where it is (1-based number, line and column), so the planner can find it in a long paste.
 */
export function parseVolumes(text: string): ParseResult {
  const values: number[] = []
  let line = 1
  let column = 1 // of `cursor`
  let cursor = 0
  for (const m of text.matchAll(TOKEN)) {
    const token = m[0]
    const pos = m.index ?? 0
    // Lines and columns up to the token; columns count characters as people see them (a
    // full-width comma is one), so count code points, not UTF-16 units.
    for (const ch of text.slice(cursor, pos)) {
      if (ch === '\n') {
        line += 1
        column = 1
      } else column += 1
    }
    cursor = pos
    const at = { token, index: values.length + 1, line, column }
    if (!NUMBER.test(token)) return { ok: false, error: { kind: 'notNumber', ...at } }
    const value = Number(token)
    if (value > LIMITS.calls) return { ok: false, error: { kind: 'tooLarge', ...at } }
    if (values.length >= LIMITS.intervals) return { ok: false, error: { kind: 'tooMany', ...at, token: '' } }
    values.push(value)
    column += [...token].length
    cursor = pos + token.length
  }
  if (!values.length) return { ok: false, error: { kind: 'empty', token: '', index: 0, line: 1, column: 1 } }
  return { ok: true, values }
}

/** The volumes as the textarea shows them: one line per hour (or per interval for 60 min). */
export function formatVolumes(values: number[], minutes: number): string {
  const perLine = Math.max(1, Math.round(60 / minutes))
  const lines: string[] = []
  for (let i = 0; i < values.length; i += perLine) lines.push(values.slice(i, i + perLine).join(' '))
  return lines.join('\n')
}

// --- fill from a day ----------------------------------------------------------------------

/** The fields of an interval row (GET /api/stats/intervals, api/stats.py IntervalOut) used here. */
export interface IntervalRow {
  key: string
  interval_start: string
  offered: number
  handled: number
  handle_ms: number
  wrap_up_ms: number
}

/** Milliseconds the zone is ahead of UTC at instant `at`. */
function zoneOffset(at: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  }).formatToParts(new Date(at))
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0)
  const wall = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'))
  return wall - Math.floor(at / 1000) * 1000
}

/** The instant local midnight starts `date` (YYYY-MM-DD) in `timeZone` (DST-safe). */
export function zonedMidnight(date: string, timeZone: string): Date {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number]
  const wall = Date.UTC(y, m - 1, d)
  let at = wall - zoneOffset(wall, timeZone)
  // The offset at the guess may differ from the one at midnight itself (a DST change that day).
  const again = wall - zoneOffset(at, timeZone)
  if (again !== at) at = again
  return new Date(at)
}

/** [start, end) of a local day: 23, 24 or 25 hours. */
export function dayRange(date: string, timeZone: string): { start: Date; end: Date } {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number]
  const next = new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10)
  return { start: zonedMidnight(date, timeZone), end: zonedMidnight(next, timeZone) }
}

/** Today's date (YYYY-MM-DD) in `timeZone`. */
export function todayIn(timeZone: string, now: Date = new Date()): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(now)
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? ''
  return `${get('year')}-${get('month')}-${get('day')}`
}

/**
 * The interval length to fill with: the chosen one when it is a whole number of the server's
 * intervals (15 → 30 or 60), else the server's (its rows cannot be split).
 */
export function fillMinutes(chosen: number, serverMinutes: number): number {
  return chosen >= serverMinutes && chosen % serverMinutes === 0 ? chosen : serverMinutes
}

export interface DayVolumes {
  /** ISO start of each interval of the day. */
  starts: string[]
  calls: number[]
  /** (handle + wrap-up) / handled over the day, seconds; null when nothing was handled. */
  ahtSeconds: number | null
  handled: number
}

/**
 * One queue's offered contacts per interval of [start, end): the server's rows summed into
 * `minutes`-long intervals counted from `start`; an interval without a row counts 0. Rows of
 * other queues or outside the day are ignored.
 */
export function dayVolumes(
  rows: readonly IntervalRow[],
  queueId: string,
  range: { start: Date; end: Date },
  minutes: number,
): DayVolumes {
  const step = minutes * 60_000
  const begin = range.start.getTime()
  const count = Math.max(0, Math.ceil((range.end.getTime() - begin) / step))
  const calls = new Array<number>(count).fill(0)
  const starts = calls.map((_, i) => new Date(begin + i * step).toISOString())
  let handled = 0
  let workMs = 0
  for (const row of rows) {
    if (row.key !== queueId) continue
    const at = new Date(row.interval_start).getTime()
    if (Number.isNaN(at) || at < begin || at >= range.end.getTime()) continue
    const i = Math.floor((at - begin) / step)
    calls[i] = (calls[i] ?? 0) + row.offered
    handled += row.handled
    workMs += row.handle_ms + row.wrap_up_ms
  }
  const ahtSeconds = handled > 0 ? Math.round(workMs / handled / 100) / 10 : null
  return { starts, calls, ahtSeconds, handled }
}

// --- the form -----------------------------------------------------------------------------

export interface StaffingForm {
  intervalMinutes: number
  ahtSeconds: number | null
  slPercent: number | null
  slSeconds: number | null
  /** null: Erlang C (nobody abandons). */
  patienceSeconds: number | null
  maxOccupancyPercent: number | null
  volumes: string
}

export type FormField = 'interval' | 'aht' | 'slPercent' | 'slSeconds' | 'patience' | 'occupancy' | 'volumes'

/** A problem with one field: a key under `workforce.validation` and its values. */
export interface FieldProblem {
  key: string
  params?: Record<string, unknown>
}

export function emptyForm(intervalMinutes = 30): StaffingForm {
  return {
    intervalMinutes,
    ahtSeconds: 180,
    slPercent: 80,
    slSeconds: 20,
    patienceSeconds: null,
    maxOccupancyPercent: null,
    volumes: '',
  }
}

export interface StaffingRequest {
  calls: number[]
  interval_seconds: number
  aht_seconds: number
  sl_seconds: number
  sl_percent: number
  patience_seconds?: number
  max_occupancy_percent?: number
}

function range(
  out: Partial<Record<FormField, FieldProblem>>,
  field: FormField,
  value: number | null,
  bounds: { min: number; max: number },
  optional = false,
): void {
  if (value === null || value === undefined || Number.isNaN(value)) {
    if (!optional) out[field] = { key: 'required' }
  } else if (value < bounds.min || value > bounds.max) {
    out[field] = { key: 'range', params: { min: bounds.min, max: bounds.max } }
  }
}

/** A parse error as a field problem: `workforce.validation.<kind>` with where it is. */
export function parseProblem(error: ParseError): FieldProblem {
  return {
    key: error.kind,
    params: {
      token: error.token,
      n: error.index,
      line: error.line,
      column: error.column,
      max: error.kind === 'tooMany' ? LIMITS.intervals : LIMITS.calls,
    },
  }
}

/**
 * Check the form as the API would; the request body when it is fine, else the problems by
 * field (the volume list's first bad token included).
 */
export function buildRequest(
  f: StaffingForm,
): { ok: true; body: StaffingRequest } | { ok: false; problems: Partial<Record<FormField, FieldProblem>> } {
  const out: Partial<Record<FormField, FieldProblem>> = {}
  if (!(INTERVAL_CHOICES as readonly number[]).includes(f.intervalMinutes)) out.interval = { key: 'required' }
  range(out, 'aht', f.ahtSeconds, LIMITS.aht)
  range(out, 'slPercent', f.slPercent, LIMITS.slPercent)
  range(out, 'slSeconds', f.slSeconds, LIMITS.slSeconds)
  range(out, 'patience', f.patienceSeconds, LIMITS.patience, true)
  range(out, 'occupancy', f.maxOccupancyPercent, LIMITS.occupancy, true)
  const parsed = parseVolumes(f.volumes)
  if (!parsed.ok) out.volumes = parseProblem(parsed.error)
  if (Object.keys(out).length || !parsed.ok) return { ok: false, problems: out }
  const body: StaffingRequest = {
    calls: parsed.values,
    interval_seconds: f.intervalMinutes * 60,
    aht_seconds: f.ahtSeconds as number,
    sl_seconds: f.slSeconds as number,
    sl_percent: f.slPercent as number,
  }
  if (f.patienceSeconds !== null) body.patience_seconds = f.patienceSeconds
  if (f.maxOccupancyPercent !== null) body.max_occupancy_percent = f.maxOccupancyPercent
  return { ok: true, body }
}

const SERVER_FIELDS: Record<string, FormField> = {
  calls: 'volumes',
  interval_seconds: 'interval',
  aht_seconds: 'aht',
  sl_seconds: 'slSeconds',
  sl_percent: 'slPercent',
  patience_seconds: 'patience',
  max_occupancy_percent: 'occupancy',
}

const FIELD_BOUNDS: Partial<Record<FormField, { min: number; max: number }>> = {
  aht: LIMITS.aht,
  slPercent: LIMITS.slPercent,
  slSeconds: LIMITS.slSeconds,
  patience: LIMITS.patience,
  occupancy: LIMITS.occupancy,
}

/** The form's wording for a server complaint about one field (its English is not shown). */
function serverFieldProblem(field: FormField, path: string[]): FieldProblem {
  if (field === 'volumes') {
    const n = Number(path[1])
    return Number.isInteger(n)
      ? { key: 'serverVolume', params: { n: n + 1, max: LIMITS.calls } }
      : { key: 'serverVolumes', params: { max: LIMITS.intervals } }
  }
  if (field === 'interval') return { key: 'serverInterval' }
  const bounds = FIELD_BOUNDS[field]
  return bounds ? { key: 'range', params: { ...bounds } } : { key: 'required' }
}

/**
 * Where a 422 from POST /api/workforce/staffing belongs: each `errors[].field` (the API's
 * model refused the body) or `problem.field` (the domain's check), on the form field it came
 * from (`calls.3` → the volume list, "the 4th number"). `general` is true when something had no
 * field: the view then shows the shared problem message (and, for a 422 without any field,
 * that no staffing solves these inputs).
 */
export function placeProblem(err: unknown): {
  fields: Partial<Record<FormField, FieldProblem>>
  general: boolean
  unsolvable: boolean
} {
  const fields: Partial<Record<FormField, FieldProblem>> = {}
  if (!(err instanceof ApiError) || err.status !== 422) return { fields, general: true, unsolvable: false }
  const problem = err.problem
  const paths = problem.errors?.length ? problem.errors.map((e) => e.field) : problem.field ? [problem.field] : []
  let general = false
  for (const raw of paths) {
    const path = (raw ?? '').split('.').filter((p) => p && p !== 'body')
    const field = SERVER_FIELDS[path[0] ?? '']
    if (!field) general = true
    else fields[field] ??= serverFieldProblem(field, path)
  }
  const unsolvable = !paths.length && problem.code === 'invalid_input'
  return { fields, general: general || (!paths.length && !unsolvable), unsolvable }
}

// --- the answer ---------------------------------------------------------------------------

/** One interval of StaffingOut (api/workforce.py). Fractions are 0–1. */
export interface StaffingRow {
  calls: number
  agents: number
  load_erlangs: number
  p_wait: number
  service_level: number
  asa_seconds: number
  occupancy: number
  p_abandon: number | null
}

export interface StaffingResult {
  model: 'erlang_c' | 'erlang_a'
  intervals: StaffingRow[]
}

/** Peak agents, agent-hours (agents × interval length) and the total calls. */
export function summarize(rows: readonly StaffingRow[], minutes: number) {
  const agents = rows.map((r) => r.agents)
  return {
    peakAgents: agents.length ? Math.max(...agents) : 0,
    agentHours: (agents.reduce((a, b) => a + b, 0) * minutes) / 60,
    calls: rows.reduce((a, r) => a + r.calls, 0),
  }
}
