/// <reference types="vitest/config" />
import { fileURLToPath, URL } from 'node:url'
import vue from '@vitejs/plugin-vue'
import AutoImport from 'unplugin-auto-import/vite'
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers'
import Components from 'unplugin-vue-components/vite'
import { defineConfig } from 'vite'
import { precompressPlugin } from './build/compress.ts'

// The built UI ships inside the Python package: hotline serves src/hotline/web/dist.
const outDir = fileURLToPath(new URL('../src/hotline/web/dist', import.meta.url))
const api = process.env.HOTLINE_API ?? 'http://127.0.0.1:8266'

export default defineConfig({
  plugins: [
    vue(),
    // Element Plus on demand: only the components and styles the pages use.
    AutoImport({ resolvers: [ElementPlusResolver()], dts: 'src/auto-imports.d.ts' }),
    Components({ resolvers: [ElementPlusResolver()], dts: 'src/components.d.ts', dirs: [] }),
    precompressPlugin(),
  ],
  resolve: { alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) } },
  define: {
    __VUE_I18N_FULL_INSTALL__: false,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
    __VUE_PROD_DEVTOOLS__: false,
    __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: false,
  },
  build: {
    outDir,
    emptyOutDir: true,
    assetsDir: 'assets',
    chunkSizeWarningLimit: 600,
    rolldownOptions: {
      output: {
        // The framework in one long-cached chunk; pages and the Element Plus parts they use are
        // split automatically (the sign-in page loads neither tables nor dialogs).
        codeSplitting: {
          groups: [{ name: 'vue', test: /node_modules[\\/](@vue|vue|vue-router|pinia|vue-i18n|@intlify)[\\/]/ }],
        },
      },
    },
  },
  // `npm run dev`: the API (hotline demo) on :8266, the event stream included.
  server: { proxy: { '/api': { target: api, changeOrigin: false } } },
  test: {
    environment: 'happy-dom',
    include: ['src/**/*.test.ts'],
    server: { deps: { inline: ['element-plus'] } },
  },
})
