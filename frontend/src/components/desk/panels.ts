// Panels that later features put into the agent desktop's contact panel, without editing the
// desktop: the customer profile and work orders, knowledge suggestions, call controls, the
// incident banner with its unified script.
//
// How to add one: create a file named `<anything>.desk-panel.ts` anywhere under src/ whose
// default export is a DeskPanel, for example src/views/knowledge/suggestions.desk-panel.ts:
//
//   import { defineAsyncComponent } from 'vue'
//   import type { DeskPanel } from '@/components/desk/panels'
//   export default {
//     id: 'knowledge-suggestions',
//     slot: 'knowledge',
//     order: 10,
//     permission: 'knowledge:read',
//     component: defineAsyncComponent(() => import('./KnowledgeSuggestions.vue')),
//   } satisfies DeskPanel
//
// The component receives the props `contact` (DeskContact) and `agent` (AgentMe). Import only
// types from this module in such a file (it is loaded by this module). A panel can also be
// added at run time with registerDeskPanel(). A page that renders the ContactPanel itself can
// fill a slot directly: <ContactPanel …><template #knowledge="{ contact }">…</template>.
// A slot with no panel and no slot content renders nothing.
import { shallowReactive, type Component } from 'vue'
import { can } from '@/pages'

export const DESK_SLOTS = ['incident', 'customer', 'knowledge', 'call-controls'] as const
export type DeskSlot = (typeof DESK_SLOTS)[number]

export interface DeskPanel {
  /** Unique id (a second registration with the same id replaces the first). */
  id: string
  slot: DeskSlot
  /** Lower comes first within the slot (default 100). */
  order?: number
  /** Permission needed (any of, for a list); null or absent: every desktop user. */
  permission?: string | readonly string[] | null
  component: Component
}

const registered = shallowReactive(new Map<string, DeskPanel>())

const files = import.meta.glob<{ default: DeskPanel }>('/src/**/*.desk-panel.ts', { eager: true })
for (const mod of Object.values(files)) registered.set(mod.default.id, mod.default)

/** Add (or replace) a panel; returns the function that removes it again. */
export function registerDeskPanel(panel: DeskPanel): () => void {
  registered.set(panel.id, panel)
  return () => {
    if (registered.get(panel.id) === panel) registered.delete(panel.id)
  }
}

/** The panels of `slot` this user may see, in order (then by id: deterministic). */
export function panelsFor(slot: DeskSlot, held: ReadonlySet<string>): DeskPanel[] {
  return [...registered.values()]
    .filter((p) => p.slot === slot && can(held, p.permission))
    .sort((a, b) => (a.order ?? 100) - (b.order ?? 100) || a.id.localeCompare(b.id))
}
