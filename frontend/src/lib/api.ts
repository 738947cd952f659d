// The one way the UI talks to hotline's API: JSON in, JSON out, errors as problem+json.

export interface Problem {
  type?: string
  title?: string
  status: number
  detail?: string
  code: string
  key: string
  params?: Record<string, unknown> | null
  field?: string | null
  errors?: { field: string; message: string }[] | null
}

export class ApiError extends Error {
  readonly problem: Problem
  constructor(problem: Problem) {
    super(problem.detail || problem.title || problem.code)
    this.problem = problem
  }
  get status(): number {
    return this.problem.status
  }
  get key(): string {
    return this.problem.key
  }
}

type Listener = () => void

const unauthenticatedListeners = new Set<(err: ApiError) => void>()
const requestListeners = new Set<Listener>()

/** Called when a request (other than a sign-in attempt) answers 401: the session is gone. */
export function onUnauthenticated(fn: (err: ApiError) => void): () => void {
  unauthenticatedListeners.add(fn)
  return () => unauthenticatedListeners.delete(fn)
}

/** Called after every request that reached the server (each one resets its idle timer). */
export function onServerContact(fn: Listener): () => void {
  requestListeners.add(fn)
  return () => requestListeners.delete(fn)
}

export interface RequestOptions {
  query?: Record<string, string | number | null | undefined>
  body?: unknown
  /** Do not treat a 401 as "session ended" (sign-in, the first /api/me). */
  quiet401?: boolean
}

function networkProblem(): Problem {
  return { status: 0, code: 'network', key: 'errors.network', detail: 'the server cannot be reached' }
}

export async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const url = new URL(path, window.location.origin)
  for (const [k, v] of Object.entries(opts.query ?? {})) {
    if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, String(v))
  }
  const headers: Record<string, string> = { Accept: 'application/json' }
  let body: string | undefined
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json'
    body = JSON.stringify(opts.body)
  }
  let res: Response
  try {
    res = await fetch(url, { method, headers, body, credentials: 'same-origin' })
  } catch {
    throw new ApiError(networkProblem())
  }
  requestListeners.forEach((fn) => fn())
  if (res.status === 204) return undefined as T
  const text = await res.text()
  let data: unknown = undefined
  if (text) {
    try {
      data = JSON.parse(text)
    } catch {
      data = undefined
    }
  }
  if (!res.ok) {
    const p = (data ?? {}) as Partial<Problem>
    const err = new ApiError({
      ...p,
      status: res.status,
      code: p.code ?? 'http_error',
      key: p.key ?? 'errors.http_error',
      detail: p.detail ?? res.statusText,
    })
    if (res.status === 401 && !opts.quiet401) unauthenticatedListeners.forEach((fn) => fn(err))
    throw err
  }
  return data as T
}

export const api = {
  get: <T>(path: string, opts?: RequestOptions) => request<T>('GET', path, opts),
  post: <T>(path: string, body?: unknown, opts?: RequestOptions) =>
    request<T>('POST', path, { ...opts, body }),
  patch: <T>(path: string, body?: unknown, opts?: RequestOptions) =>
    request<T>('PATCH', path, { ...opts, body }),
  del: <T>(path: string, opts?: RequestOptions) => request<T>('DELETE', path, opts),
}

// --- the API's shapes (src/hotline/api/identity.py, audit.py) -------------------------------
export interface RoleGrantRef {
  id: string
  role: string
  org_unit_id: string
}

export interface User {
  id: string
  username: string
  display_name: string
  org_unit_id: string
  status: 'active' | 'disabled'
  locked: boolean
  totp_enabled: boolean
  must_change_password: boolean
  last_login_at: string | null
  created_at: string
  roles: RoleGrantRef[]
}

export interface Me {
  user: User
  permissions: string[]
  roles: string[]
  mfa_enrollment_required: boolean
  password_change_required: boolean
  /** null: this session has no idle timeout (a wall screen's display session). */
  idle_timeout_seconds: number | null
  session_kind: SessionKind
}

/** interactive: a person's session; display: a wall screen's display account (ADR 0009). */
export type SessionKind = 'interactive' | 'display'

export type OrgUnitKind = 'group' | 'branch' | 'dispatch_center' | 'department' | 'team'

export interface OrgUnit {
  id: string
  parent_id: string | null
  kind: OrgUnitKind
  code: string
  name: string
  path: string
  active: boolean
}

export interface RoleInfo {
  name: string
  name_zh: string
  permissions: string[]
}

export interface UserPage {
  items: User[]
  next_after: string | null
}

export interface Policy {
  min_length: number
  min_classes: number
  history: number
  lockout_threshold: number
  lockout_minutes: number
  session_idle_minutes: number
  session_max_hours: number
  display_session_hours: number
}

export interface AuditRow {
  seq: number
  occurred_at: string
  actor_id: string | null
  actor_name: string
  ip: string | null
  action: string
  object_type: string | null
  object_id: string | null
  org_unit_path: string | null
  details: Record<string, unknown>
  hash: string
}

export interface AuditPage {
  items: AuditRow[]
  next_before_seq: number | null
}

export interface ApiToken {
  id: string
  name: string
  prefix: string
  scopes: string[]
  created_at: string
  expires_at: string | null
  revoked_at: string | null
  last_used_at: string | null
}

export interface ApiTokenCreated extends ApiToken {
  token: string
}
