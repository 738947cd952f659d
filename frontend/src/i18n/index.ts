import { computed, watch } from 'vue'
import { createI18n } from 'vue-i18n'
import elEn from 'element-plus/es/locale/lang/en.mjs'
import elZhCn from 'element-plus/es/locale/lang/zh-cn.mjs'
import en from './en'
import zhCN from './zh-CN'

export const LOCALES = ['zh-CN', 'en'] as const
export type Locale = (typeof LOCALES)[number]
export const DEFAULT_LOCALE: Locale = 'zh-CN'
const STORAGE_KEY = 'hotline.locale'

function storedLocale(): Locale {
  try {
    const value = window.localStorage.getItem(STORAGE_KEY)
    if (value && (LOCALES as readonly string[]).includes(value)) return value as Locale
  } catch {
    // storage unavailable (private mode): use the default
  }
  return DEFAULT_LOCALE
}

export const i18n = createI18n({
  legacy: false,
  locale: storedLocale(),
  fallbackLocale: DEFAULT_LOCALE,
  messages: { 'zh-CN': zhCN, en },
  missingWarn: false,
  fallbackWarn: false,
})

export const locale = i18n.global.locale

export function setLocale(value: Locale): void {
  locale.value = value
  try {
    window.localStorage.setItem(STORAGE_KEY, value)
  } catch {
    // not persisted; still switched for this page
  }
}

export function toggleLocale(): void {
  setLocale(locale.value === 'zh-CN' ? 'en' : 'zh-CN')
}

/** Element Plus's own texts (pagination, dialogs, empty tables) follow the UI language. */
export const elementLocale = computed(() => (locale.value === 'en' ? elEn : elZhCn))

watch(
  locale,
  (value) => {
    document.documentElement.lang = value
  },
  { immediate: true },
)
