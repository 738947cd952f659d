// Pre-compress the built files (gzip and brotli, best level) so the server sends them as they
// are instead of compressing on every request. Node's zlib only: no third-party code.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'
import type { Plugin } from 'vite'

const COMPRESSIBLE = /\.(js|mjs|css|html|svg|json|txt|map)$/
const MIN_BYTES = 1024

function* files(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) yield* files(path)
    else yield path
  }
}

export function precompress(dir: string): { file: string; raw: number; gz: number; br: number }[] {
  const out = []
  for (const file of files(dir)) {
    if (!COMPRESSIBLE.test(file)) continue
    const raw = readFileSync(file)
    if (raw.length < MIN_BYTES) continue
    const gz = gzipSync(raw, { level: 9 })
    const br = brotliCompressSync(raw, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: 11,
        [constants.BROTLI_PARAM_SIZE_HINT]: raw.length,
      },
    })
    // Keep a compressed copy only when it saves something.
    if (gz.length < raw.length) writeFileSync(`${file}.gz`, gz)
    if (br.length < raw.length) writeFileSync(`${file}.br`, br)
    out.push({ file, raw: raw.length, gz: gz.length, br: br.length })
  }
  return out
}

export function precompressPlugin(): Plugin {
  let outDir = ''
  return {
    name: 'hotline-precompress',
    apply: 'build',
    configResolved(config) {
      outDir = config.build.outDir
    },
    closeBundle() {
      const results = precompress(outDir)
      const sum = (k: 'raw' | 'gz' | 'br') => results.reduce((n, r) => n + r[k], 0)
      this.info?.(
        `pre-compressed ${results.length} files: ${sum('raw')} B → gzip ${sum('gz')} B, brotli ${sum('br')} B`,
      )
    },
  }
}
