import { describe, expect, it } from 'vitest'
import { landingPage, menu, PAGES, type PageDef } from './pages'

const perms = (...p: string[]) => new Set(p)

describe('pages registry', () => {
  it('shows only the pages a user may open', () => {
    const names = menu(perms('org:read', 'token:manage')).flatMap((e) => e.pages.map((p) => p.name))
    expect(names).toEqual(['org-units', 'account'])
  })

  it('lands on the first page with a permission the user holds', () => {
    expect(landingPage(perms('audit:read'))?.name).toBe('audit')
    expect(landingPage(perms('user:read', 'org:read', 'policy:read'))?.name).toBe('users')
    expect(landingPage(perms())).toBeNull()
  })

  it('takes new pages without other changes', () => {
    const desk: PageDef = {
      name: 'desk',
      path: '/desk',
      titleKey: 'pages.desk',
      permission: ['contact:handle', 'agent:self'],
      group: 'admin',
      order: 10,
      component: async () => ({}),
    }
    expect(landingPage(perms('agent:self', 'org:read'), [...PAGES, desk])?.name).toBe('desk')
  })

  it('has unique names and paths', () => {
    expect(new Set(PAGES.map((p) => p.name)).size).toBe(PAGES.length)
    expect(new Set(PAGES.map((p) => p.path)).size).toBe(PAGES.length)
  })
})
