// Every error key the API can send and every audit action it records has a text in both
// languages. Both are read from the Python sources (`key="errors.…"`, `audit("domain.action"`),
// so a new server error or audit action without a translation fails here instead of showing
// the server's English detail or a raw action name to a zh-CN user.
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import en from './en'
import zhCN from './zh-CN'

type Tree = { [key: string]: string | Tree }

const SRC = join(__dirname, '../../../src/hotline')

// Keys built at run time: the exact source text → every key it can produce. A new f-string key
// must be added here (the test below fails until it is).
const DYNAMIC: Record<string, string[]> = {
  'errors.routing.{kind.error}_exists': ['errors.routing.skill_exists', 'errors.routing.wrap_up_code_exists'],
  'errors.routing.{kind.error}_not_found': [
    'errors.routing.skill_not_found',
    'errors.routing.wrap_up_code_not_found',
  ],
  'errors.routing.{kind}_not_found': [
    'errors.routing.agent_not_found',
    'errors.routing.contact_not_found',
    'errors.routing.queue_not_found',
  ],
  'errors.{code}': [
    'errors.not_found',
    'errors.method_not_allowed',
    'errors.http_error',
    'errors.bad_credentials',
    'errors.mfa_required',
    'errors.mfa_invalid',
  ],
}

function pythonFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name)
      if (statSync(path).isDirectory()) return name === '__pycache__' ? [] : pythonFiles(path)
      return name.endsWith('.py') ? [path] : []
    })
}

function has(tree: Tree, key: string): boolean {
  let node: string | Tree | undefined = tree
  for (const part of key.split('.')) {
    if (typeof node !== 'object' || node === null) return false
    node = node[part]
  }
  return typeof node === 'string' && node.trim() !== ''
}

describe('API error keys', () => {
  const literal = new Map<string, string>() // key → first file that raises it
  const dynamic = new Map<string, string>()
  for (const file of pythonFiles(SRC)) {
    const text = readFileSync(file, 'utf8')
    for (const m of text.matchAll(/key=(f?)"(errors\.[^"]+)"/g)) {
      const target = m[1] ? dynamic : literal
      if (!target.has(m[2])) target.set(m[2], relative(SRC, file))
    }
  }

  it('finds the keys in the sources', () => {
    expect(literal.size).toBeGreaterThan(50)
  })

  it('knows every key built at run time', () => {
    expect([...dynamic.keys()].filter((k) => !(k in DYNAMIC))).toEqual([])
  })

  it('translates every key in zh-CN and English', () => {
    const keys = [...literal.keys(), ...[...dynamic.keys()].flatMap((k) => DYNAMIC[k] ?? [])]
    const missing = keys
      .filter((k) => !has(zhCN as Tree, k) || !has(en as unknown as Tree, k))
      .map((k) => `${k} (${literal.get(k) ?? 'dynamic'})`)
    expect(missing).toEqual([])
  })
})

// Audit actions built at run time: the exact source text → every action it can produce.
const DYNAMIC_AUDIT: Record<string, string[]> = {
  '{kind.object_type}.create': ['skill.create', 'wrap_up_code.create'],
  '{kind.object_type}.update': ['skill.update', 'wrap_up_code.update'],
  'agent.logout_{status}': ['agent.logout_approved', 'agent.logout_rejected'],
}

describe('audit actions', () => {
  const literal = new Map<string, string>()
  const dynamic = new Map<string, string>()
  for (const file of pythonFiles(SRC)) {
    const text = readFileSync(file, 'utf8')
    // tx.audit("contact.end", …) — the action is the first argument, perhaps on the next line
    for (const m of text.matchAll(/\baudit\(\s*(f?)"([a-z_{}.]+\.[a-z_{}.]+)"/g)) {
      const target = m[1] ? dynamic : literal
      if (!target.has(m[2])) target.set(m[2], relative(SRC, file))
    }
  }

  it('finds the actions in the sources', () => {
    expect(literal.size).toBeGreaterThan(40)
  })

  it('knows every action built at run time', () => {
    expect([...dynamic.keys()].filter((k) => !(k in DYNAMIC_AUDIT))).toEqual([])
  })

  it('labels every action in zh-CN and English', () => {
    const actions = [
      ...literal.keys(),
      ...[...dynamic.keys()].flatMap((k) => DYNAMIC_AUDIT[k] ?? []),
    ]
    const missing = actions
      .filter(
        (a) => !has(zhCN as Tree, `auditActions.${a}`) || !has(en as unknown as Tree, `auditActions.${a}`),
      )
      .map((a) => `${a} (${literal.get(a) ?? 'dynamic'})`)
    expect(missing).toEqual([])
  })
})
