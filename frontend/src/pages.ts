// The registry of pages: route, permission needed, i18n title and menu place.
// To add a page (the agent desktop, the wallboard…): add a NAV_GROUPS entry if needed and a
// PAGES entry; the router, the menu and the landing rule pick it up.
import type { Component } from 'vue'

export interface NavGroup {
  id: string
  titleKey: string
  order: number
}

export interface PageDef {
  /** Route name; also the id of the menu item. */
  name: string
  path: string
  /** i18n key of the menu item and page title. */
  titleKey: string
  /** Permission needed (any of, for a list); null: any signed-in user. */
  permission: string | readonly string[] | null
  group: string
  /** Lower comes first, in the menu and as the landing page. */
  order: number
  component: () => Promise<Component | { default: Component }>
  /** Hidden pages are reachable by route but not listed in the menu. */
  hidden?: boolean
  /** May be a landing page (default true). */
  landing?: boolean
}

export const NAV_GROUPS: NavGroup[] = [
  { id: 'desk', titleKey: 'desk.nav', order: 10 },
  { id: 'supervise', titleKey: 'wallboard.nav', order: 20 },
  // Planning (forecasts, staffing, schedules): not live monitoring, so not under supervise.
  { id: 'planning', titleKey: 'workforce.nav', order: 30 },
  { id: 'admin', titleKey: 'nav.admin', order: 50 },
  { id: 'routing', titleKey: 'routingAdmin.nav.group', order: 55 },
  { id: 'audit', titleKey: 'nav.audit', order: 60 },
  { id: 'personal', titleKey: 'nav.personal', order: 90 },
]

export const PAGES: PageDef[] = [
  {
    // The agent desktop: the landing page of everyone who takes contacts (lowest order).
    name: 'desk',
    path: '/desk',
    titleKey: 'desk.title',
    permission: 'agent:self',
    group: 'desk',
    order: 100,
    component: () => import('@/views/desk/AgentDeskView.vue'),
  },
  {
    // The wallboard: live queues and agents (the landing page of QA and tech support).
    name: 'wallboard',
    path: '/wallboard',
    titleKey: 'wallboard.title',
    permission: 'stats:read',
    group: 'supervise',
    order: 200,
    component: () => import('@/views/wallboard/WallboardView.vue'),
  },
  {
    // Team-lead controls: agents' states, logout approvals, the waiting lines.
    name: 'team',
    path: '/team',
    titleKey: 'wallboard.teamTitle',
    permission: ['agent:supervise', 'contact:supervise'],
    group: 'supervise',
    order: 210,
    component: () => import('@/views/wallboard/TeamView.vue'),
  },
  {
    // The staffing calculator (R-C7): Erlang C/A over interval volumes (POST
    // /api/workforce/staffing, stats:read). A planning tool, never a landing page.
    name: 'staffing',
    path: '/workforce/staffing',
    titleKey: 'workforce.title',
    permission: 'stats:read',
    group: 'planning',
    order: 300,
    landing: false,
    component: () => import('@/views/workforce/StaffingView.vue'),
  },
  {
    name: 'users',
    path: '/admin/users',
    titleKey: 'pages.users',
    permission: 'user:read',
    group: 'admin',
    order: 510,
    component: () => import('@/views/UsersView.vue'),
  },
  {
    name: 'org-units',
    path: '/admin/org-units',
    titleKey: 'pages.orgUnits',
    permission: 'org:read',
    group: 'admin',
    order: 520,
    component: () => import('@/views/OrgUnitsView.vue'),
  },
  {
    name: 'security-policy',
    path: '/admin/security-policy',
    titleKey: 'pages.securityPolicy',
    permission: 'policy:read',
    group: 'admin',
    order: 530,
    component: () => import('@/views/SecurityPolicyView.vue'),
  },
  // Routing configuration: never a landing page (an agent or an administrator starts elsewhere).
  {
    name: 'routing-queues',
    path: '/routing/queues',
    titleKey: 'routingAdmin.pages.queues',
    permission: 'queue:read',
    group: 'routing',
    order: 550,
    landing: false,
    component: () => import('@/views/routing/QueuesView.vue'),
  },
  {
    name: 'routing-entry-points',
    path: '/routing/entry-points',
    titleKey: 'routingAdmin.pages.entryPoints',
    permission: 'queue:read',
    group: 'routing',
    order: 555,
    landing: false,
    component: () => import('@/views/routing/EntryPointsView.vue'),
  },
  {
    // Business calendars (营业时间) that entry points follow; views/calendars/.
    name: 'routing-calendars',
    path: '/routing/calendars',
    titleKey: 'calendars.page',
    permission: 'queue:read',
    group: 'routing',
    order: 557,
    landing: false,
    component: () => import('@/views/calendars/CalendarsView.vue'),
  },
  {
    name: 'routing-skills',
    path: '/routing/skills',
    titleKey: 'routingAdmin.pages.skills',
    permission: 'queue:read',
    group: 'routing',
    order: 560,
    landing: false,
    component: () => import('@/views/routing/SkillsView.vue'),
  },
  {
    // GET /api/agents/{id}/profile needs queue:manage (and the user list user:read).
    name: 'routing-agent-skills',
    path: '/routing/agent-skills',
    titleKey: 'routingAdmin.pages.agentSkills',
    permission: 'queue:manage',
    group: 'routing',
    order: 565,
    landing: false,
    component: () => import('@/views/routing/AgentSkillsView.vue'),
  },
  {
    name: 'audit',
    path: '/audit',
    titleKey: 'pages.audit',
    permission: 'audit:read',
    group: 'audit',
    order: 600,
    component: () => import('@/views/AuditView.vue'),
  },
  {
    name: 'account',
    path: '/account',
    titleKey: 'pages.account',
    permission: null,
    group: 'personal',
    order: 900,
    component: () => import('@/views/AccountView.vue'),
  },
]

export function can(
  held: ReadonlySet<string>,
  needed: string | readonly string[] | null | undefined,
): boolean {
  if (needed === null || needed === undefined) return true
  if (typeof needed === 'string') return held.has(needed)
  return needed.some((p) => held.has(p))
}

export function visiblePages(held: ReadonlySet<string>, pages: PageDef[] = PAGES): PageDef[] {
  return pages
    .filter((p) => can(held, p.permission))
    .sort((a, b) => a.order - b.order)
}

/** The menu: groups in order, each with the pages this user may open. */
export function menu(held: ReadonlySet<string>, pages: PageDef[] = PAGES) {
  const visible = visiblePages(held, pages).filter((p) => !p.hidden)
  return [...NAV_GROUPS]
    .sort((a, b) => a.order - b.order)
    .map((group) => ({ group, pages: visible.filter((p) => p.group === group.id) }))
    .filter((entry) => entry.pages.length > 0)
}

/**
 * The first page this user may see. "My account" (open to everyone) is only the landing page
 * when nothing else is: a user without roles lands on the no-access page instead.
 */
export function landingPage(held: ReadonlySet<string>, pages: PageDef[] = PAGES): PageDef | null {
  const candidates = visiblePages(held, pages).filter((p) => p.landing !== false)
  const withPermission = candidates.filter((p) => p.permission !== null)
  return withPermission[0] ?? null
}
