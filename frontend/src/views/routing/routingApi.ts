// The routing configuration API's shapes (src/hotline/api/routing.py) and the bounds its
// models check, so the forms can refuse what the server would refuse before sending it.
import { api, ApiError } from '@/lib/api'
import { problemMessage, problemParams } from '@/lib/format'
import { i18n } from '@/i18n'

export const CHANNELS = ['voice', 'chat', 'email', 'sms', 'social', 'work_item'] as const
export type Channel = (typeof CHANNELS)[number]
export const STRATEGIES = ['longest_idle', 'most_skilled', 'round_robin', 'least_occupied'] as const
export type Strategy = (typeof STRATEGIES)[number]
export const MAX_WAIT_ACTIONS = ['remove', 'callback'] as const
export type MaxWaitAction = (typeof MAX_WAIT_ACTIONS)[number]
export const STEP_KINDS = ['lower_skill_level', 'add_queue_agents', 'activate_group'] as const
export type StepKind = (typeof STEP_KINDS)[number]

/** Limits of the API's pydantic models (api/routing.py, api/contacts.py, domains/routing). */
export const LIMITS = {
  week: 7 * 86400,
  level: { min: 1, max: 10 },
  priority: 1000,
  percent: 100,
  offerTimeout: 3600,
  wrapUp: 86400,
  ageing: 1000,
  capacity: 50,
  skillsPerQueue: 20,
  overflowSteps: 10,
  name: 200,
  address: 100,
  code: 64,
} as const

/** A code: a lower-case letter, then lower-case letters, digits, '_' or '-' (≤ 64). */
export const CODE_RE = /^[a-z][a-z0-9_-]{0,63}$/
export const ADDRESS_RE = /^\S{1,100}$/

export interface CodedItem {
  id: string
  code: string
  name: string
  active: boolean
  created_at: string
  updated_at: string
}

export interface Page<T> {
  items: T[]
  next_after: string | null
}

export interface SkillRequirement {
  skill: string
  min_level: number
}

export type OverflowStep =
  | { kind: 'lower_skill_level'; after_seconds: number; min_level: number; skill: string | null }
  | { kind: 'add_queue_agents'; after_seconds: number; queue_id: string }
  | { kind: 'activate_group'; after_seconds: number; group: string }

export interface QueueSettings {
  skills: SkillRequirement[]
  channels: Channel[]
  priority: number
  service_level_seconds: number
  service_level_percent: number
  max_wait_seconds: number | null
  max_wait_action: MaxWaitAction
  strategy: Strategy
  overflow: OverflowStep[]
  offer_timeout_seconds: number
  wrap_up_seconds: number
  ageing_per_minute: number
}

export interface Queue extends QueueSettings {
  id: string
  code: string
  name: string
  org_unit_id: string
  created_at: string
  updated_at: string
}

export interface EntryPoint {
  id: string
  channel: Channel
  address: string
  name: string
  queue_id: string
  priority: number
  active: boolean
  calendar_id: string | null
  created_at: string
  updated_at: string
}

/** A business calendar as the entry-point form offers it (GET /api/calendars). */
export interface CalendarRef {
  id: string
  code: string
  name: string
}

export interface AgentProfile {
  user_id: string
  skills: Record<string, number>
  capacity: Partial<Record<Channel, number>>
  group: string | null
  updated_at: string
}

/** Every item of a paged list (`next_after` → `after`), for pickers that need them all. */
export async function fetchAll<T>(path: string): Promise<T[]> {
  const out: T[] = []
  let after: string | null = null
  do {
    const page: Page<T> = await api.get<Page<T>>(path, { query: { limit: 200, after } })
    out.push(...page.items)
    after = page.next_after
  } while (after)
  return out
}

const t = (key: string, params?: Record<string, unknown>) => i18n.global.t(key, params ?? {})
const te = (key: string) => i18n.global.te(key)

/**
 * A failed request's message: an area wording (`routingAdmin.<key>`) if one exists, else the
 * shared display (`problemMessage`, `errors.*`).
 */
export function routingProblemMessage(err: unknown): string {
  if (err instanceof ApiError) {
    const { key, params, errors, detail } = err.problem
    // This area's wording first (written for the administration pages), then the shared one.
    if (key && te(`routingAdmin.${key}`)) {
      return t(`routingAdmin.${key}`, problemParams(params))
    }
    // A rule the domain checks without a key of its own: say which, in the server's words.
    if (key === 'errors.invalid_input' && !errors?.length && detail) {
      return `${problemMessage(err)} (${detail})`
    }
  }
  return problemMessage(err)
}

/**
 * Where a server's complaint belongs on a form: `problem.field` (a domain error) or each
 * `errors[].field` (a request the API's models refused), mapped to the nearest field the form
 * shows (`overflow.1.lower_skill_level.min_level` → `overflow.1.min_level`, else `overflow.1`,
 * else `overflow`). What has no field on the form goes to `general`.
 */
export function placeProblem(
  err: unknown,
  shown: (field: string) => boolean,
): { fields: Record<string, string>; general: string } {
  const fields: Record<string, string> = {}
  let general = ''
  const place = (field: string | null | undefined, message: string): boolean => {
    if (!field) return false
    let parts = field.split('.').filter((p) => p !== 'body')
    // A discriminated union's member name sits in the path: drop it.
    parts = parts.filter((p) => !(STEP_KINDS as readonly string[]).includes(p))
    while (parts.length) {
      const path = parts.join('.')
      if (shown(path)) {
        fields[path] = fields[path] ? `${fields[path]}; ${message}` : message
        return true
      }
      parts = parts.slice(0, -1)
    }
    return false
  }
  if (err instanceof ApiError) {
    const problem = err.problem
    if (problem.errors?.length) {
      for (const e of problem.errors) {
        if (!place(e.field, t('routingAdmin.form.serverInvalid', { message: e.message }))) {
          general = routingProblemMessage(err)
        }
      }
      return { fields, general }
    }
    if (place(problem.field, routingProblemMessage(err))) return { fields, general }
  }
  return { fields, general: routingProblemMessage(err) }
}
