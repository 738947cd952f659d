import { afterEach, describe, expect, it } from 'vitest'
import { defineComponent } from 'vue'
import en from '@/i18n/en'
import zhCN from '@/i18n/zh-CN'
import {
  AGENT_REASONS,
  CALLBACK_HORIZON_DAYS,
  callbackDueError,
  formatDuration,
  mayGoReady,
  secondsBetween,
  splitWork,
  type AgentMe,
  type DeskContact,
} from './model'
import { panelsFor, registerDeskPanel } from './panels'
import { noteServerTime, resetServerClock, serverNow } from './serverClock'
import { matchShortcut, type Shortcut } from './shortcuts'

describe('durations', () => {
  it('formats m:ss and h:mm:ss, never negative', () => {
    expect(formatDuration(0)).toBe('0:00')
    expect(formatDuration(65.9)).toBe('1:05')
    expect(formatDuration(3600 + 62)).toBe('1:01:02')
    expect(formatDuration(-5)).toBe('0:00')
  })

  it('measures between instants, null when one is missing', () => {
    expect(secondsBetween('2026-01-05T08:00:00Z', '2026-01-05T08:00:20Z')).toBe(20)
    expect(secondsBetween('2026-01-05T08:00:00Z', Date.parse('2026-01-05T08:01:00Z'))).toBe(60)
    expect(secondsBetween(null, '2026-01-05T08:00:00Z')).toBeNull()
    expect(secondsBetween('nonsense', '2026-01-05T08:00:00Z')).toBeNull()
  })
})

const contact = (id: string, status: string, at: string): DeskContact =>
  ({ id, status, arrived_at: at, offered_at: at }) as DeskContact

describe('work', () => {
  it('splits offers, connected and wrap-up contacts, oldest first', () => {
    const w = splitWork([
      contact('c3', 'connected', '2026-01-05T08:00:03Z'),
      contact('c1', 'offered', '2026-01-05T08:00:09Z'),
      contact('c2', 'connected', '2026-01-05T08:00:01Z'),
      contact('c4', 'wrap_up', '2026-01-05T08:00:00Z'),
    ])
    expect(w.offers.map((c) => c.id)).toEqual(['c1'])
    expect(w.connected.map((c) => c.id)).toEqual(['c2', 'c3'])
    expect(w.wrapUp.map((c) => c.id)).toEqual(['c4'])
  })

  it('offers "ready" only where it means something', () => {
    const me = (state: string, pending: string | null = null) =>
      ({ state, pending_reason: pending }) as AgentMe
    expect(mayGoReady(me('not_ready'))).toBe(true)
    expect(mayGoReady(me('wrap_up'))).toBe(true)
    expect(mayGoReady(me('ready'))).toBe(false)
    expect(mayGoReady(me('busy'))).toBe(false)
    expect(mayGoReady(me('busy', 'meal'))).toBe(true)
    expect(mayGoReady(me('logged_out'))).toBe(false)
  })
})

describe('callback time', () => {
  const now = Date.parse('2026-01-05T08:00:00Z')
  it('must be picked, in the future, within the horizon (server time)', () => {
    expect(callbackDueError(null, now)).toBe('dueRequired')
    expect(callbackDueError(new Date('nonsense'), now)).toBe('dueRequired')
    expect(callbackDueError(new Date(now), now)).toBe('duePast')
    expect(callbackDueError(new Date(now - 60_000), now)).toBe('duePast')
    expect(callbackDueError(new Date(now + 60_000), now)).toBeNull()
    const horizon = now + CALLBACK_HORIZON_DAYS * 86_400_000
    expect(callbackDueError(new Date(horizon), now)).toBeNull()
    expect(callbackDueError(new Date(horizon + 1000), now)).toBe('dueTooFar')
  })
})

describe('server clock', () => {
  afterEach(resetServerClock)

  it('uses the browser clock until the server says otherwise', () => {
    const before = Date.now()
    expect(serverNow()).toBeGreaterThanOrEqual(before)
  })

  it('keeps the sample with the least delay', () => {
    const received = Date.parse('2026-11-28T10:00:00Z')
    noteServerTime('2026-01-05T08:00:00Z', received) // a server on another clock
    const offset1 = serverNow() - Date.now()
    noteServerTime('2026-01-05T07:59:00Z', received) // an older event, replayed: ignored
    expect(Math.abs(serverNow() - Date.now() - offset1)).toBeLessThan(50)
    noteServerTime('2026-01-05T08:00:21Z', received) // the server's clock moved on
    expect(Math.round((serverNow() - Date.now() - offset1) / 1000)).toBe(21)
    noteServerTime('not a date', received)
    expect(Math.round((serverNow() - Date.now() - offset1) / 1000)).toBe(21)
  })
})

describe('shortcuts', () => {
  let ran = ''
  const shortcuts: Shortcut[] = [
    { key: 'a', labelKey: 'desk.shortcuts.accept', run: () => (ran = 'a') },
    { key: '?', labelKey: 'desk.shortcuts.help', run: () => (ran = '?') },
  ]
  function press(target: Element, init: KeyboardEventInit): Shortcut | null {
    let hit: Shortcut | null = null
    const listener = (e: Event) => (hit = matchShortcut(e as KeyboardEvent, shortcuts))
    document.addEventListener('keydown', listener)
    target.dispatchEvent(new KeyboardEvent('keydown', { bubbles: true, ...init }))
    document.removeEventListener('keydown', listener)
    return hit
  }

  it('fires on the page, upper or lower case, and for "?"', () => {
    document.body.innerHTML = '<main><button id="b">x</button></main>'
    const button = document.getElementById('b')!
    expect(press(button, { key: 'a' })?.key).toBe('a')
    expect(press(button, { key: 'A', shiftKey: true })?.key).toBe('a')
    expect(press(document.body, { key: '?', shiftKey: true })?.key).toBe('?')
    expect(press(button, { key: 'x' })).toBeNull()
    expect(ran).toBe('')
  })

  it('does not fire while typing, with modifiers or inside a dialog', () => {
    document.body.innerHTML = `
      <input id="i"><textarea id="t"></textarea><div id="c" contenteditable="true"></div>
      <div role="dialog"><button id="d">ok</button></div><button id="b">x</button>`
    for (const id of ['i', 't', 'c', 'd']) {
      expect(press(document.getElementById(id)!, { key: 'a' })).toBeNull()
    }
    const b = document.getElementById('b')!
    expect(press(b, { key: 'a', ctrlKey: true })).toBeNull()
    expect(press(b, { key: 'a', altKey: true })).toBeNull()
    expect(press(b, { key: 'a', metaKey: true })).toBeNull()
  })
})

describe('desk panels registry', () => {
  const Dummy = defineComponent({ render: () => null })

  it('lists a slot’s panels by order, filtered by permission, and removes them again', () => {
    const offs = [
      registerDeskPanel({ id: 'kb-b', slot: 'knowledge', order: 20, component: Dummy }),
      registerDeskPanel({ id: 'kb-a', slot: 'knowledge', order: 10, component: Dummy }),
      registerDeskPanel({
        id: 'kb-secret',
        slot: 'knowledge',
        order: 5,
        permission: 'knowledge:manage',
        component: Dummy,
      }),
      registerDeskPanel({ id: 'crm', slot: 'customer', component: Dummy }),
    ]
    const held = new Set(['agent:self'])
    expect(panelsFor('knowledge', held).map((p) => p.id)).toEqual(['kb-a', 'kb-b'])
    expect(panelsFor('knowledge', new Set(['knowledge:manage'])).map((p) => p.id)).toEqual([
      'kb-secret',
      'kb-a',
      'kb-b',
    ])
    expect(panelsFor('customer', held).map((p) => p.id)).toEqual(['crm'])
    expect(panelsFor('incident', held)).toEqual([])
    offs.forEach((off) => off())
    expect(panelsFor('knowledge', new Set(['knowledge:manage']))).toEqual([])
  })
})

type Tree = { [key: string]: string | Tree }
function has(tree: Tree, path: string): boolean {
  let node: string | Tree | undefined = tree
  for (const part of path.split('.')) {
    if (typeof node !== 'object') return false
    node = node[part]
  }
  return typeof node === 'string' && node.trim() !== ''
}

describe('desk translations', () => {
  // The API's error keys: i18n/apiErrors.test.ts reads them from the Python sources.
  it('names every reason, state and channel', () => {
    const keys = [
      ...AGENT_REASONS.map((r) => `agent.reasons.${r}`),
      ...['missed', 'login', 'supervisor'].map((r) => `agent.reasons.${r}`),
      ...['logged_out', 'ready', 'not_ready', 'reserved', 'busy', 'wrap_up'].map(
        (s) => `agent.states.${s}`,
      ),
      ...['voice', 'chat', 'email', 'sms', 'social', 'work_item'].map((c) => `agent.channels.${c}`),
    ]
    const missing = keys.filter((k) => !has(zhCN as Tree, k) || !has(en as unknown as Tree, k))
    expect(missing).toEqual([])
  })
})
