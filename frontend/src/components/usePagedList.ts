// An admin list read a page at a time ("load more"), as the routing and calendar pages show
// them: the rows, the cursor of the next page, whether a read runs and its error.
import { ref, type Ref } from 'vue'
import { useI18n } from 'vue-i18n'
import { api } from '@/lib/api'

export interface ListPage<T> {
  items: T[]
  next_after: string | null
}

/** `read(after)` answers one page (after: null for the first); `problem` words an error. */
export function usePagedList<T extends { id: string }>(
  read: (after: string | null) => Promise<ListPage<T>>,
  problem: (err: unknown) => string,
) {
  const { t } = useI18n()
  const items = ref([]) as Ref<T[]>
  const nextAfter = ref<string | null>(null)
  const loading = ref(false)
  const loadError = ref('')

  /** The first page again (after: null), or the page after the rows shown. */
  async function loadPage(after: string | null): Promise<void> {
    loading.value = true
    loadError.value = ''
    try {
      const page = await read(after)
      items.value = after ? [...items.value, ...page.items] : page.items
      nextAfter.value = page.next_after
    } catch (err) {
      loadError.value = problem(err)
    } finally {
      loading.value = false
    }
  }

  /** Puts a changed row in place of the shown one; false when it is not shown. */
  function replace(item: T): boolean {
    const i = items.value.findIndex((x) => x.id === item.id)
    if (i < 0) return false
    items.value.splice(i, 1, item)
    return true
  }

  /** Lists by code: a new row goes in its place if that place is loaded. */
  function insertByCode(item: T & { code: string }): void {
    const rows = items.value as (T & { code: string })[]
    const last = rows[rows.length - 1]
    if (nextAfter.value !== null && last && item.code > last.code) return
    const at = rows.findIndex((x) => x.code > item.code)
    items.value.splice(at < 0 ? items.value.length : at, 0, item)
  }

  /** PATCH `url` with `{ active }`, a deactivation only once the user confirms `question`;
   * the answer replaces the row. */
  async function setActive(url: string, active: boolean, question: string): Promise<void> {
    if (!active) {
      try {
        await ElMessageBox.confirm(question, t('common.confirmTitle'), {
          confirmButtonText: t('common.confirm'),
          cancelButtonText: t('common.cancel'),
          type: 'warning',
        })
      } catch {
        return
      }
    }
    try {
      replace(await api.patch<T>(url, { active }))
      ElMessage.success(t('common.done'))
    } catch (err) {
      ElMessage.error(problem(err))
    }
  }

  return { items, nextAfter, loading, loadError, loadPage, replace, insertByCode, setActive }
}
