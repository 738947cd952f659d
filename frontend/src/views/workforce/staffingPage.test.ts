import { describe, expect, it } from 'vitest'
import { landingPage, menu } from '@/pages'

describe('the staffing page in the registry', () => {
  it('is under planning for whoever reads statistics, and never the landing page', () => {
    const held = new Set(['stats:read'])
    const groups = menu(held).map((e) => [e.group.id, e.pages.map((p) => p.name)])
    expect(groups).toContainEqual(['planning', ['staffing']])
    expect(landingPage(held)?.name).toBe('wallboard')
    expect(menu(new Set(['queue:read'])).flatMap((e) => e.pages.map((p) => p.name))).not.toContain('staffing')
  })
})
