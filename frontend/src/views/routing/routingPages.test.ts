import { describe, expect, it } from 'vitest'
import { landingPage, menu } from '@/pages'

const perms = (...p: string[]) => new Set(p)
const routing = (held: Set<string>) =>
  menu(held)
    .filter((e) => e.group.id === 'routing')
    .flatMap((e) => e.pages.map((p) => p.name))

describe('routing pages in the registry', () => {
  it('shows the configuration to queue readers, agent skills only to queue managers', () => {
    expect(routing(perms('queue:read'))).not.toContain('routing-agent-skills')
    expect(routing(perms('queue:read'))).toContain('routing-queues')
    expect(routing(perms('queue:read', 'queue:manage'))).toContain('routing-agent-skills')
  })

  it('is never where anyone lands', () => {
    expect(landingPage(perms('queue:read', 'queue:manage'))).toBeNull()
    expect(landingPage(perms('queue:read', 'org:read'))?.name).toBe('org-units')
  })
})
