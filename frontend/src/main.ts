import { createPinia } from 'pinia'
import { createApp, nextTick, watch } from 'vue'
import App from './App.vue'
import { i18n, locale } from './i18n'
import { namePickerPopups } from './lib/popupNames'
import { router } from './router'
import './styles.css'

createApp(App).use(createPinia()).use(i18n).use(router).mount('#app')

const pickerNames = namePickerPopups(document.body, () => i18n.global.t('common.datePopup'))
watch(locale, () => nextTick(pickerNames.rename))
