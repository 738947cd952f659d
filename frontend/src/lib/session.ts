// The signed-in user (GET /api/me) and what they may do.
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { api, ApiError, type Me } from './api'
import { can, landingPage } from '@/pages'

/** Where a display session (a wall screen) starts: the wallboard in TV mode. */
export const DISPLAY_LANDING = '/wallboard?tv=1'

export const useSession = defineStore('session', () => {
  const me = ref<Me | null>(null)
  const loaded = ref(false)

  const permissions = computed(() => new Set(me.value?.permissions ?? []))
  const signedIn = computed(() => me.value !== null)
  /** Signed in, password changed and two-step verification set up where required. */
  const ready = computed(
    () => !!me.value && !me.value.password_change_required && !me.value.mfa_enrollment_required,
  )

  /** Fetch /api/me; a 401 means "not signed in" (not an error). */
  async function load(): Promise<Me | null> {
    try {
      me.value = await api.get<Me>('/api/me', { quiet401: true })
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 401) {
        loaded.value = true
        throw err
      }
      me.value = null
    }
    loaded.value = true
    return me.value
  }

  function clear(): void {
    me.value = null
    loaded.value = true
  }

  async function signOut(): Promise<void> {
    try {
      await api.post('/api/auth/logout', undefined, { quiet401: true })
    } catch {
      // the session is gone already: nothing to end
    }
    clear()
  }

  function may(permission: string | readonly string[] | null | undefined): boolean {
    return can(permissions.value, permission)
  }

  /** Where this user starts: the first page of the registry they may open. */
  function landing(): string {
    if (me.value?.session_kind === 'display') return DISPLAY_LANDING
    const page = landingPage(permissions.value)
    return page ? page.path : '/no-access'
  }

  return { me, loaded, permissions, signedIn, ready, load, clear, signOut, may, landing }
})
