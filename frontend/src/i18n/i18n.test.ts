import { describe, expect, it } from 'vitest'
import en from './en'
import zhCN from './zh-CN'

type Tree = { [key: string]: string | Tree }

function flatten(tree: Tree, prefix = ''): Map<string, string> {
  const out = new Map<string, string>()
  for (const [key, value] of Object.entries(tree)) {
    const path = prefix ? `${prefix}.${key}` : key
    if (typeof value === 'string') out.set(path, value)
    else for (const [k, v] of flatten(value, path)) out.set(k, v)
  }
  return out
}

const params = (message: string) => [...message.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort()

describe('translations', () => {
  const zh = flatten(zhCN as Tree)
  const english = flatten(en as Tree)

  it('has every zh-CN key in English', () => {
    expect([...zh.keys()].filter((k) => !english.has(k))).toEqual([])
  })

  it('has every English key in zh-CN', () => {
    expect([...english.keys()].filter((k) => !zh.has(k))).toEqual([])
  })

  it('has no empty message', () => {
    const empty = [...zh, ...english].filter(([, v]) => !v.trim()).map(([k]) => k)
    expect(empty).toEqual([])
  })

  it('uses the same parameters in both languages', () => {
    const differ = [...zh].filter(([k, v]) => params(v).join() !== params(english.get(k) ?? '').join())
    expect(differ.map(([k]) => k)).toEqual([])
  })

  it('avoids characters vue-i18n treats as syntax', () => {
    const bad = [...zh, ...english].filter(([, v]) => /[@$|]/.test(v)).map(([k]) => k)
    expect(bad).toEqual([])
  })
})
