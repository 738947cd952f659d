// Keyboard shortcuts of the agent desktop: single keys, so that an agent on a headset can act
// without the mouse. They never fire while the agent types (inputs, text areas, selects,
// editable text), with a modifier held (browser and screen-reader shortcuts stay intact), or
// inside a dialog (its own form owns the keyboard there).
import { onMounted, onUnmounted } from 'vue'

export interface Shortcut {
  /** `KeyboardEvent.key`, lower case for letters ("a", "?"). */
  key: string
  /** i18n key of what it does (shown in the help popover). */
  labelKey: string
  run: () => void
}

const TYPING = 'input, textarea, select, [contenteditable=""], [contenteditable="true"]'

/** Whether a key press belongs to whatever has the focus rather than to the desktop. */
export function ignoredTarget(event: KeyboardEvent): boolean {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return true
  if (event.isComposing) return true // an input method is composing Chinese text
  const target = event.target
  if (!(target instanceof Element)) return false
  if (target.closest(TYPING)) return true
  return target.closest('[role="dialog"], [aria-modal="true"]') !== null
}

/** The shortcut a key press triggers, if any. */
export function matchShortcut(event: KeyboardEvent, shortcuts: readonly Shortcut[]): Shortcut | null {
  if (ignoredTarget(event)) return null
  const key = event.key.length === 1 ? event.key.toLowerCase() : event.key
  return shortcuts.find((s) => s.key === key) ?? null
}

/** Listen on the document while the calling component is mounted. */
export function useShortcuts(shortcuts: () => readonly Shortcut[]): void {
  function onKey(event: KeyboardEvent): void {
    const hit = matchShortcut(event, shortcuts())
    if (!hit) return
    event.preventDefault()
    hit.run()
  }
  onMounted(() => document.addEventListener('keydown', onKey))
  onUnmounted(() => document.removeEventListener('keydown', onKey))
}
