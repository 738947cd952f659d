import { describe, expect, it } from 'vitest'
import en from './en'
import zhCN from './zh-CN'

type Tree = { [key: string]: string | Tree }

function flatten(tree: Tree, prefix = ''): Map<string, string> {
  const out = new Map<string, string>()
  for (const [key, value] of Object.entries(tree)) {
    const path = prefix ? `${prefix}.${key}` : key
    if (typeof value === 'string') out.set(path, value)
    else for (const [k, v] of flatten(value, path)) out.set(k, v)
  }
  return out
}

const params = (message: string) => [...message.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort()

describe('translations', () => {
  const zh = flatten(zhCN as Tree)
  const english = flatten(en as Tree)

  it('has every zh-CN key in English', () => {
    expect([...zh.keys()].filter((k) => !english.has(k))).toEqual([])
  })

  it('has every English key in zh-CN', () => {
    expect([...english.keys()].filter((k) => !zh.has(k))).toEqual([])
  })

  it('has no empty message', () => {
    const empty = [...zh, ...english].filter(([, v]) => !v.trim()).map(([k]) => k)
    expect(empty).toEqual([])
  })

  it('uses the same parameters in both languages', () => {
    const differ = [...zh].filter(([k, v]) => params(v).join() !== params(english.get(k) ?? '').join())
    expect(differ.map(([k]) => k)).toEqual([])
  })

  it('avoids characters vue-i18n treats as syntax', () => {
    const bad = [...zh, ...english].filter(([, v]) => /[@$|]/.test(v)).map(([k]) => k)
    expect(bad).toEqual([])
  })

  it('translates every error key the API sends', () => {
    // Keys raised by src/hotline (grep 'key="errors.'); routing keys come with the routing UI.
    const apiKeys = [
      'account_disabled', 'admin_credentials_reset', 'bad_credentials', 'conflict',
      'customer_name_empty', 'customer_not_found', 'http_error', 'id_number_checksum',
      'id_number_invalid', 'id_number_length', 'internal', 'invalid_input', 'limit_range',
      'locked', 'method_not_allowed', 'mfa_invalid', 'mfa_required', 'not_found',
      'org_kind_not_allowed', 'org_unit_not_found', 'password_classes',
      'password_contains_username', 'password_reused', 'password_simple', 'password_too_short',
      'password_wrong', 'permission_denied', 'permission_required', 'permission_required_root',
      'phone_invalid', 'required', 'scope_not_held', 'self_grant', 'separation_of_duties',
      'session_expired', 'token_invalid', 'too_long', 'too_many_requests', 'totp_enabled',
      'totp_invalid', 'unauthenticated', 'unknown_fields', 'unknown_role', 'unknown_scopes',
      'user_not_found', 'username_invalid',
    ]
    const missing = apiKeys.filter((k) => !zh.has(`errors.${k}`) || !english.has(`errors.${k}`))
    expect(missing).toEqual([])
  })
})
