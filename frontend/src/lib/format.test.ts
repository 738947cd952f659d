import { describe, expect, it } from 'vitest'
import { ApiError } from './api'
import { problemMessage } from './format'
import { setLocale } from '@/i18n'

const problem = (key: string, params?: Record<string, unknown>, detail = 'server detail') =>
  new ApiError({ status: 422, code: 'invalid_input', key, params, detail })

describe('problem messages', () => {
  it('translates the key with its parameters', () => {
    setLocale('zh-CN')
    expect(problemMessage(problem('errors.password_too_short', { min: 12 }))).toBe(
      '密码长度至少为 12 个字符。',
    )
    expect(
      problemMessage(problem('errors.separation_of_duties', { roles: ['auditor', 'system_admin'] })),
    ).toBe('三员分立：同一用户不能同时担任审计员、系统管理员。')
    setLocale('en')
    expect(problemMessage(problem('errors.bad_credentials'))).toBe('Wrong username or password.')
    expect(problemMessage(problem('errors.org_kind_not_allowed', { kind: 'team', parent: 'group' }))).toBe(
      'A Team cannot be placed under a Group.',
    )
  })

  it("falls back to the server's detail for an unknown key", () => {
    expect(problemMessage(problem('errors.routing.something_new'))).toBe('server detail')
  })
})
