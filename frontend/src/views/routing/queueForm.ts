// The queue editor's state: built from a queue, checked against the API's bounds, turned into
// the request body. Kept apart from the component so the rules are unit-tested.
import {
  CODE_RE,
  LIMITS,
  type Channel,
  type MaxWaitAction,
  type OverflowStep,
  type Queue,
  type QueueSettings,
  type StepKind,
  type Strategy,
} from './routingApi'

let nextKey = 1
/** A stable key for v-for: rows are added, removed and moved. */
export const rowKey = (): number => nextKey++

export interface SkillRow {
  key: number
  skill: string
  min_level: number | null
}

/** One overflow step; the fields of every kind are kept so switching kind loses nothing. */
export interface StepRow {
  key: number
  kind: StepKind
  after_seconds: number | null
  min_level: number | null
  skill: string
  queue_id: string
  group: string
}

export interface QueueForm {
  code: string
  name: string
  org_unit_id: string
  skills: SkillRow[]
  channels: Channel[]
  priority: number | null
  service_level_seconds: number | null
  service_level_percent: number | null
  max_wait_enabled: boolean
  max_wait_seconds: number | null
  max_wait_action: MaxWaitAction
  strategy: Strategy
  overflow: StepRow[]
  offer_timeout_seconds: number | null
  wrap_up_seconds: number | null
  ageing_per_minute: number | null
}

/** The API's defaults (QueueSettings in api/routing.py). */
export function emptyQueueForm(): QueueForm {
  return {
    code: '',
    name: '',
    org_unit_id: '',
    skills: [],
    channels: ['voice'],
    priority: 0,
    service_level_seconds: 20,
    service_level_percent: 80,
    max_wait_enabled: false,
    max_wait_seconds: 600,
    max_wait_action: 'remove',
    strategy: 'longest_idle',
    overflow: [],
    offer_timeout_seconds: 20,
    wrap_up_seconds: 60,
    ageing_per_minute: 0,
  }
}

export function newStep(kind: StepKind = 'lower_skill_level', after = 60): StepRow {
  return { key: rowKey(), kind, after_seconds: after, min_level: 1, skill: '', queue_id: '', group: '' }
}

export function queueToForm(q: Queue): QueueForm {
  return {
    code: q.code,
    name: q.name,
    org_unit_id: q.org_unit_id,
    skills: q.skills.map((r) => ({ key: rowKey(), skill: r.skill, min_level: r.min_level })),
    channels: [...q.channels],
    priority: q.priority,
    service_level_seconds: q.service_level_seconds,
    service_level_percent: q.service_level_percent,
    max_wait_enabled: q.max_wait_seconds !== null,
    max_wait_seconds: q.max_wait_seconds ?? 600,
    max_wait_action: q.max_wait_action,
    strategy: q.strategy,
    overflow: q.overflow.map((s) => {
      const row = newStep(s.kind, s.after_seconds)
      if (s.kind === 'lower_skill_level') {
        row.min_level = s.min_level
        row.skill = s.skill ?? ''
      } else if (s.kind === 'add_queue_agents') row.queue_id = s.queue_id
      else row.group = s.group
      return row
    }),
    offer_timeout_seconds: q.offer_timeout_seconds,
    wrap_up_seconds: q.wrap_up_seconds,
    ageing_per_minute: q.ageing_per_minute,
  }
}

function stepOut(s: StepRow): OverflowStep {
  const after_seconds = s.after_seconds ?? 0
  if (s.kind === 'lower_skill_level') {
    return { kind: s.kind, after_seconds, min_level: s.min_level ?? 1, skill: s.skill || null }
  }
  if (s.kind === 'add_queue_agents') return { kind: s.kind, after_seconds, queue_id: s.queue_id }
  return { kind: s.kind, after_seconds, group: s.group.trim() }
}

/** The settings part of the request body (POST /api/queues, PUT /api/queues/{id}). */
export function formToSettings(f: QueueForm): QueueSettings {
  return {
    skills: f.skills.map((r) => ({ skill: r.skill, min_level: r.min_level ?? 1 })),
    channels: [...f.channels],
    priority: f.priority ?? 0,
    service_level_seconds: f.service_level_seconds ?? 0,
    service_level_percent: f.service_level_percent ?? 0,
    max_wait_seconds: f.max_wait_enabled ? f.max_wait_seconds : null,
    max_wait_action: f.max_wait_action,
    strategy: f.strategy,
    overflow: f.overflow.map(stepOut),
    offer_timeout_seconds: f.offer_timeout_seconds ?? 0,
    wrap_up_seconds: f.wrap_up_seconds ?? 0,
    ageing_per_minute: f.ageing_per_minute ?? 0,
  }
}

/** A problem with one field: an i18n key under `routingAdmin.validation` and its values. */
export interface FieldProblem {
  key: string
  params?: Record<string, unknown>
}

export interface ValidateContext {
  creating: boolean
  /** The queue being edited (cannot overflow to itself). */
  queueId?: string | null
}

function inRange(
  out: Record<string, FieldProblem>,
  field: string,
  value: number | null,
  min: number,
  max: number,
  opts: { integer?: boolean; minExclusive?: boolean } = {},
): void {
  if (value === null || value === undefined || Number.isNaN(value)) {
    out[field] = { key: 'required' }
  } else if (opts.integer && !Number.isInteger(value)) {
    out[field] = { key: 'integer' }
  } else if (opts.minExclusive ? value <= min : value < min) {
    out[field] = opts.minExclusive
      ? { key: 'above', params: { min } }
      : { key: 'range', params: { min, max } }
  } else if (value > max) {
    out[field] = opts.minExclusive
      ? { key: 'aboveMax', params: { min, max } }
      : { key: 'range', params: { min, max } }
  }
}

/**
 * Check the form as the API would (api/routing.py models, domains/routing/model.py
 * QueueConfig): returns the problems by field path (`overflow.1.after_seconds`); empty if none.
 */
export function validateQueueForm(f: QueueForm, ctx: ValidateContext): Record<string, FieldProblem> {
  const out: Record<string, FieldProblem> = {}
  const { week, level, priority } = LIMITS
  if (ctx.creating) {
    if (!f.code.trim()) out.code = { key: 'required' }
    else if (!CODE_RE.test(f.code.trim())) out.code = { key: 'code' }
    if (!f.org_unit_id) out.org_unit_id = { key: 'required' }
  }
  if (!f.name.trim()) out.name = { key: 'required' }
  else if (f.name.trim().length > LIMITS.name) out.name = { key: 'tooLong', params: { max: LIMITS.name } }
  if (!f.channels.length) out.channels = { key: 'channels' }

  if (f.skills.length > LIMITS.skillsPerQueue) {
    out.skills = { key: 'tooMany', params: { max: LIMITS.skillsPerQueue } }
  }
  const seen = new Set<string>()
  f.skills.forEach((r, i) => {
    if (!r.skill) out[`skills.${i}.skill`] = { key: 'required' }
    else if (seen.has(r.skill)) out[`skills.${i}.skill`] = { key: 'duplicateSkill' }
    seen.add(r.skill)
    inRange(out, `skills.${i}.min_level`, r.min_level, level.min, level.max, { integer: true })
  })

  inRange(out, 'priority', f.priority, -priority, priority, { integer: true })
  inRange(out, 'service_level_seconds', f.service_level_seconds, 0, week)
  inRange(out, 'service_level_percent', f.service_level_percent, 0, LIMITS.percent)
  if (f.max_wait_enabled) {
    inRange(out, 'max_wait_seconds', f.max_wait_seconds, 0, week, { minExclusive: true })
  }
  inRange(out, 'offer_timeout_seconds', f.offer_timeout_seconds, 0, LIMITS.offerTimeout, {
    minExclusive: true,
  })
  inRange(out, 'wrap_up_seconds', f.wrap_up_seconds, 0, LIMITS.wrapUp)
  inRange(out, 'ageing_per_minute', f.ageing_per_minute, 0, LIMITS.ageing)

  if (f.overflow.length > LIMITS.overflowSteps) {
    out.overflow = { key: 'tooMany', params: { max: LIMITS.overflowSteps } }
  }
  const required = new Set(f.skills.map((r) => r.skill).filter(Boolean))
  let last = 0
  f.overflow.forEach((s, i) => {
    const at = `overflow.${i}`
    inRange(out, `${at}.after_seconds`, s.after_seconds, 0, week)
    // Steps are cumulative stages of one wait: each starts no earlier than the one before.
    if (s.after_seconds !== null && !out[`${at}.after_seconds`]) {
      if (s.after_seconds < last) out[`${at}.after_seconds`] = { key: 'stepOrder', params: { min: last } }
      else last = s.after_seconds
    }
    if (s.kind === 'lower_skill_level') {
      inRange(out, `${at}.min_level`, s.min_level, level.min, level.max, { integer: true })
      if (s.skill && !required.has(s.skill)) out[`${at}.skill`] = { key: 'skillNotRequired' }
    } else if (s.kind === 'add_queue_agents') {
      if (!s.queue_id) out[`${at}.queue_id`] = { key: 'required' }
      else if (ctx.queueId && s.queue_id === ctx.queueId) out[`${at}.queue_id`] = { key: 'selfOverflow' }
    } else if (!s.group.trim()) out[`${at}.group`] = { key: 'required' }
    else if (!CODE_RE.test(s.group.trim())) out[`${at}.group`] = { key: 'code' }
  })
  return out
}

/** Move row `i` by `delta` (−1 up, +1 down); out-of-range moves do nothing. */
export function moveRow<T>(rows: T[], i: number, delta: number): void {
  const j = i + delta
  if (i < 0 || j < 0 || i >= rows.length || j >= rows.length) return
  const [row] = rows.splice(i, 1)
  rows.splice(j, 0, row as T)
}
