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
  { id: 'admin', titleKey: 'nav.admin', order: 50 },
  { id: 'audit', titleKey: 'nav.audit', order: 60 },
  { id: 'personal', titleKey: 'nav.personal', order: 90 },
]

export const PAGES: PageDef[] = [
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
