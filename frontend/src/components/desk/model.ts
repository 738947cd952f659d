// The agent desktop's shapes (src/hotline/api/routing.py AgentOut, api/contacts.py ContactOut)
// and the small pure helpers the desktop's components share.

export type AgentState = 'logged_out' | 'ready' | 'not_ready' | 'reserved' | 'busy' | 'wrap_up'

/** Reasons an agent may choose (the backend's AGENT_REASONS; missed/login/supervisor are set
 * by the system or a team lead). */
export const AGENT_REASONS = [
  'break',
  'meal',
  'training',
  'meeting',
  'coaching',
  'system_fault',
  'personal',
  'offline_work',
  'other',
] as const
export type AgentReason = (typeof AGENT_REASONS)[number]

export type Channel = 'voice' | 'chat' | 'email' | 'sms' | 'social' | 'work_item'

export interface DeskContact {
  id: string
  channel: Channel
  direction: string
  status: string
  entry_point_id: string | null
  address: string | null
  customer_id: string | null
  caller: string | null
  caller_area: string | null
  queue_id: string | null
  priority: number
  callback: boolean
  agent_id: string | null
  arrived_at: string
  queued_at: string | null
  offered_at: string | null
  offer_deadline: string | null
  answered_at: string | null
  ended_at: string | null
  finished_at: string | null
  wrap_up_code: string | null
  wrap_up_notes: string | null
  masked: boolean
  position?: number | null
  /** A callback an agent scheduled: the contact it calls back, when (null: at once), note. */
  callback_of?: string | null
  callback_due_at?: string | null
  callback_note?: string | null
  /** In callback lists: the agent (user id) who scheduled it. */
  callback_requested_by?: string | null
}

export interface ContactHistoryEntry {
  id: number | null
  at: string
  type: string
  queue_id: string | null
  agent_id: string | null
  data: Record<string, unknown>
}

export interface DeskContactDetail extends DeskContact {
  history: ContactHistoryEntry[]
}

export interface LogoutRequest {
  id: string
  requested_at: string
  cause: string
  status: string
}

export interface AgentMe {
  user_id: string
  username: string
  display_name: string
  org_unit_id: string
  has_profile: boolean
  state: AgentState
  reason: string | null
  state_since: string | null
  seat: string | null
  group: string | null
  pending_reason: string | null
  wrap_up_until: string | null
  idle_since: string | null
  skills: Record<string, number>
  capacity: Record<string, number>
  logout_request: LogoutRequest | null
  work: DeskContact[]
  server_time?: string | null
}

export interface QueueRef {
  id: string
  code: string
  name: string
  channels: string[]
}

export interface EntryPointRef {
  id: string
  channel: string
  address: string
  name: string
  queue_id: string
}

export interface WrapUpCodeRef {
  id: string
  code: string
  name: string
  active: boolean
}

export interface AgentRef {
  user_id: string
  username: string
  display_name: string
  state: AgentState
}

export interface Page<T> {
  items: T[]
  next_after: string | null
}

/** Seconds as m:ss, or h:mm:ss from an hour on; negative counts as 0. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const rest = String(s % 60).padStart(2, '0')
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`
}

/** Seconds between two instants (ISO strings or epoch ms); null when either is missing. */
export function secondsBetween(
  from: string | number | null | undefined,
  to: string | number | null | undefined,
): number | null {
  if (from === null || from === undefined || to === null || to === undefined) return null
  const a = typeof from === 'number' ? from : Date.parse(from)
  const b = typeof to === 'number' ? to : Date.parse(to)
  if (Number.isNaN(a) || Number.isNaN(b)) return null
  return (b - a) / 1000
}

/** The agent's work, split the way the desktop shows it, each list in a stable order. */
export function splitWork(work: readonly DeskContact[]) {
  const byTime = (a: DeskContact, b: DeskContact) =>
    (a.offered_at ?? a.arrived_at).localeCompare(b.offered_at ?? b.arrived_at) ||
    a.id.localeCompare(b.id)
  const sorted = [...work].sort(byTime)
  return {
    offers: sorted.filter((c) => c.status === 'offered'),
    connected: sorted.filter((c) => c.status === 'connected'),
    wrapUp: sorted.filter((c) => c.status === 'wrap_up'),
  }
}

/** Whether "ready" means something now: from not ready or wrap-up, or (while ringing or busy)
 * to cancel a not ready that waits for the work to finish. */
export function mayGoReady(me: AgentMe): boolean {
  if (me.state === 'not_ready' || me.state === 'wrap_up') return true
  return me.pending_reason !== null && me.state !== 'ready' && me.state !== 'logged_out'
}

/** A callback is promised within this many days (the backend's CALLBACK_HORIZON). */
export const CALLBACK_HORIZON_DAYS = 7

/** Days a callback date picker greys out: before the server's today (`nowMs`, local date)
 * or after the end of the horizon. */
export function callbackDayDisabled(day: Date, nowMs: number): boolean {
  const now = new Date(nowMs)
  const today = new Date(now.getFullYear(), now.getMonth(), now.getDate()).getTime()
  return day.getTime() < today || day.getTime() > today + CALLBACK_HORIZON_DAYS * 86_400_000
}

/** What is wrong with a callback time picked in the dialog (null: fine), judged against the
 * server's `nowMs`: missing, not in the future, or beyond the horizon. */
export function callbackDueError(
  due: Date | null,
  nowMs: number,
): 'dueRequired' | 'duePast' | 'dueTooFar' | null {
  if (!due || Number.isNaN(due.getTime())) return 'dueRequired'
  if (due.getTime() <= nowMs) return 'duePast'
  if (due.getTime() - nowMs > CALLBACK_HORIZON_DAYS * 86_400_000) return 'dueTooFar'
  return null
}
