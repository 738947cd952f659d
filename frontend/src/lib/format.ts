// Rendering helpers that need the translations: problem documents, roles, dates.
import { ApiError, type Problem } from './api'
import { i18n } from '@/i18n'

const t = (key: string, params?: Record<string, unknown>) => i18n.global.t(key, params ?? {})
const te = (key: string) => i18n.global.te(key)

export function roleLabel(role: string): string {
  return te(`roles.${role}`) ? t(`roles.${role}`) : role
}

export function permissionLabel(permission: string): string {
  const key = `permissions.${permission.replace(':', '.')}`
  return te(key) ? t(key) : permission
}

export function kindLabel(kind: string): string {
  return te(`orgUnits.kinds.${kind}`) ? t(`orgUnits.kinds.${kind}`) : kind
}

export function auditActionLabel(action: string): string {
  const key = `auditActions.${action}`
  return te(key) ? t(key) : action
}

function list(values: unknown, label: (v: string) => string): string {
  const items = Array.isArray(values) ? values : [values]
  const sep = i18n.global.locale.value === 'en' ? ', ' : '、'
  return items.map((v) => label(String(v))).join(sep)
}

/** Parameters of a problem, made readable: role and permission names translated. */
export function problemParams(params: Record<string, unknown> | null | undefined) {
  const out: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(params ?? {})) {
    if (name === 'roles' || name === 'role') out[name] = list(value, roleLabel)
    else if (name === 'permission' || name === 'scopes') out[name] = list(value, permissionLabel)
    else if (name === 'kind' || name === 'parent') out[name] = list(value, kindLabel)
    else if (Array.isArray(value)) out[name] = list(value, (v) => v)
    else out[name] = value
  }
  return out
}

/** The message to show for a failed request: the translated `key`, else the server's detail. */
export function problemMessage(err: unknown): string {
  const problem: Problem | null = err instanceof ApiError ? err.problem : null
  if (!problem) return t('errors.error')
  if (problem.key && te(problem.key)) {
    let text = t(problem.key, problemParams(problem.params))
    if (problem.code === 'invalid_input' && problem.key === 'errors.invalid_input') {
      const fields = (problem.errors ?? []).map((e) => e.field).filter(Boolean)
      if (fields.length) text += ` (${fields.join(', ')})`
    }
    return text
  }
  return problem.detail || t('errors.error')
}

export function formatDateTime(value: string | null | undefined): string {
  if (!value) return t('common.never')
  const date = new Date(value)
  if (Number.isNaN(date.getTime())) return value
  return new Intl.DateTimeFormat(i18n.global.locale.value, {
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hour12: false,
  }).format(date)
}
