import { describe, expect, it } from 'vitest'
import { ApiError } from '@/lib/api'
import { i18n } from '@/i18n'
import en from '@/i18n/en'
import zhCN from '@/i18n/zh-CN'
import {
  emptyQueueForm,
  formToSettings,
  moveRow,
  newStep,
  queueToForm,
  validateQueueForm,
  type QueueForm,
} from './queueForm'
import { placeProblem, routingProblemMessage, type Queue } from './routingApi'

function form(patch: Partial<QueueForm> = {}): QueueForm {
  return { ...emptyQueueForm(), code: 'faults', name: '故障报修', org_unit_id: 'u1', ...patch }
}

const QUEUE: Queue = {
  id: 'q1',
  code: 'faults',
  name: '故障报修',
  org_unit_id: 'u1',
  skills: [{ skill: 'fault_repair', min_level: 3 }],
  channels: ['chat', 'voice'],
  priority: 5,
  service_level_seconds: 30,
  service_level_percent: 85,
  max_wait_seconds: 600,
  max_wait_action: 'callback',
  strategy: 'most_skilled',
  overflow: [
    { kind: 'lower_skill_level', after_seconds: 60, min_level: 1, skill: 'fault_repair' },
    { kind: 'activate_group', after_seconds: 120, group: 'standby' },
    { kind: 'add_queue_agents', after_seconds: 180, queue_id: 'q2' },
  ],
  offer_timeout_seconds: 25,
  wrap_up_seconds: 90,
  ageing_per_minute: 1.5,
  created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z',
}

describe('queue form', () => {
  it('round-trips a queue into the request body', () => {
    const { id, code, name, org_unit_id, created_at, updated_at, ...settings } = QUEUE
    void [id, code, name, org_unit_id, created_at, updated_at]
    expect(formToSettings(queueToForm(QUEUE))).toEqual(settings)
  })

  it('sends no max wait when it is switched off, and null for "all skills"', () => {
    const f = form({ max_wait_enabled: false, overflow: [{ ...newStep(), skill: '' }] })
    const body = formToSettings(f)
    expect(body.max_wait_seconds).toBeNull()
    expect(body.overflow[0]).toEqual({ kind: 'lower_skill_level', after_seconds: 60, min_level: 1, skill: null })
  })

  it('accepts the defaults', () => {
    expect(validateQueueForm(form(), { creating: true })).toEqual({})
  })

  it('mirrors the API bounds', () => {
    const problems = validateQueueForm(
      form({
        code: 'Faults',
        channels: [],
        priority: 1001,
        service_level_percent: 101,
        offer_timeout_seconds: 0,
        max_wait_enabled: true,
        max_wait_seconds: 0,
        ageing_per_minute: -1,
        skills: [
          { key: 1, skill: 'a', min_level: 11 },
          { key: 2, skill: 'a', min_level: 1.5 },
        ],
      }),
      { creating: true },
    )
    expect(Object.fromEntries(Object.entries(problems).map(([k, v]) => [k, v.key]))).toEqual({
      code: 'code',
      channels: 'channels',
      priority: 'range',
      service_level_percent: 'range',
      offer_timeout_seconds: 'above',
      max_wait_seconds: 'above',
      ageing_per_minute: 'range',
      'skills.0.min_level': 'range',
      'skills.1.skill': 'duplicateSkill',
      'skills.1.min_level': 'integer',
    })
  })

  it('wants overflow steps in order of waiting time, each complete', () => {
    const late = { ...newStep('activate_group', 120), group: 'standby' }
    const early = { ...newStep('lower_skill_level', 60), skill: 'other' }
    const self = { ...newStep('add_queue_agents', 200), queue_id: 'q1' }
    const empty = newStep('add_queue_agents', 300)
    const problems = validateQueueForm(form({ overflow: [late, early, self, empty] }), {
      creating: false,
      queueId: 'q1',
    })
    expect(problems).toEqual({
      'overflow.1.after_seconds': { key: 'stepOrder', params: { min: 120 } },
      'overflow.1.skill': { key: 'skillNotRequired' },
      'overflow.2.queue_id': { key: 'selfOverflow' },
      'overflow.3.queue_id': { key: 'required' },
    })
    moveRow(form().overflow, 0, -1) // out of range: nothing
    const rows = [late, early]
    moveRow(rows, 1, -1)
    expect(rows.map((r) => r.after_seconds)).toEqual([60, 120])
  })
})

describe('server problems on the form', () => {
  const shown = (f: string) => ['code', 'overflow', 'overflow.1.min_level'].includes(f)

  it('puts a domain error on its field, translated', () => {
    i18n.global.locale.value = 'en'
    const err = new ApiError({
      status: 409,
      code: 'conflict',
      key: 'errors.routing.queue_exists',
      field: 'code',
    })
    expect(placeProblem(err, shown)).toEqual({ fields: { code: 'A queue with this code exists.' }, general: '' })
  })

  it('maps request validation paths to the nearest field shown', () => {
    const err = new ApiError({
      status: 422,
      code: 'invalid_input',
      key: 'errors.invalid_input',
      errors: [
        { field: 'overflow.1.lower_skill_level.min_level', message: 'too big' },
        { field: 'overflow.0.activate_group.group', message: 'bad' },
      ],
    })
    const placed = placeProblem(err, shown)
    expect(Object.keys(placed.fields).sort()).toEqual(['overflow', 'overflow.1.min_level'])
    expect(placed.general).toBe('')
  })

  it('says what the domain refused when it has no key of its own', () => {
    i18n.global.locale.value = 'en'
    const err = new ApiError({
      status: 422,
      code: 'invalid_input',
      key: 'errors.invalid_input',
      detail: 'a queue cannot overflow to its own agents',
    })
    expect(routingProblemMessage(err)).toContain('a queue cannot overflow to its own agents')
  })

  it('translates every routing error key the configuration API sends', () => {
    // grep 'key="errors.routing.' in src/hotline/domains/routing and src/hotline/infra/routing
    const keys = [
      'address_invalid', 'agent_not_found', 'channel_not_in_queue', 'code_invalid',
      'entry_point_exists', 'entry_point_not_found', 'name_invalid', 'no_agent_profile',
      'queue_channels_in_use', 'queue_exists', 'queue_not_empty', 'queue_not_found',
      'queue_referenced', 'skill_exists', 'skill_level', 'skill_not_found', 'unavailable',
      'unknown_overflow_queue', 'unknown_skills', 'wrap_up_code_exists', 'wrap_up_code_not_found',
    ]
    const has = (tree: unknown, key: string) =>
      typeof key.split('.').reduce<unknown>((node, k) => (node as Record<string, unknown>)?.[k], tree) === 'string'
    const missing = keys.filter(
      (k) => !has(zhCN, `errors.routing.${k}`) || !has(en, `errors.routing.${k}`),
    )
    expect(missing).toEqual([])
  })
})
