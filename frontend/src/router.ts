import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'
import { PAGES } from './pages'
import { useSession } from './lib/session'

declare module 'vue-router' {
  interface RouteMeta {
    /** Reachable without signing in. */
    public?: boolean
    /** One of the steps a new session may have to take first. */
    step?: 'password' | 'mfa'
    permission?: string | readonly string[] | null
    titleKey?: string
  }
}

const routes: RouteRecordRaw[] = [
  {
    path: '/login',
    name: 'login',
    component: () => import('@/views/LoginView.vue'),
    meta: { public: true, titleKey: 'login.title' },
  },
  {
    path: '/password',
    name: 'password',
    component: () => import('@/views/PasswordChangeView.vue'),
    meta: { step: 'password', titleKey: 'password.title' },
  },
  {
    path: '/mfa-setup',
    name: 'mfa-setup',
    component: () => import('@/views/TotpEnrollView.vue'),
    meta: { step: 'mfa', titleKey: 'mfa.title' },
  },
  {
    path: '/',
    component: () => import('@/components/AppShell.vue'),
    children: [
      // Nothing is shown here: the guard sends the user to their landing page.
      { path: '', name: 'home', component: () => import('@/views/NoAccessView.vue') },
      ...PAGES.map(
        (page): RouteRecordRaw => ({
          path: page.path.replace(/^\//, ''),
          name: page.name,
          component: page.component,
          meta: { permission: page.permission, titleKey: page.titleKey },
        }),
      ),
      {
        path: 'no-access',
        name: 'no-access',
        component: () => import('@/views/NoAccessView.vue'),
        meta: { titleKey: 'pages.noAccess' },
      },
      {
        path: ':pathMatch(.*)*',
        name: 'not-found',
        component: () => import('@/views/NotFoundView.vue'),
        meta: { titleKey: 'pages.notFound' },
      },
    ],
  },
]

export const router = createRouter({ history: createWebHistory(), routes })

router.beforeEach(async (to) => {
  const session = useSession()
  if (!session.loaded) await session.load().catch(() => null)
  const me = session.me
  if (to.meta.public) {
    return me && to.name === 'login' && !to.query.expired ? session.landing() : true
  }
  if (!me) {
    return { name: 'login', query: to.fullPath !== '/' ? { redirect: to.fullPath } : {} }
  }
  // A temporary password first, then two-step enrollment: nothing else until both are done.
  if (me.password_change_required) return to.name === 'password' ? true : { name: 'password' }
  if (me.mfa_enrollment_required) return to.name === 'mfa-setup' ? true : { name: 'mfa-setup' }
  const landing = session.landing()
  if (to.name === 'home' || to.meta.step === 'password') return landing
  if (to.name === 'no-access' && landing !== to.path) return landing
  if (!session.may(to.meta.permission)) return landing
  return true
})
