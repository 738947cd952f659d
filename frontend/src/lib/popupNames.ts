/**
 * Element Plus opens a date or time picker's calendar as a `role="dialog"` popup without an
 * accessible name, so a screen reader announces only "dialog" (axe: aria-dialog-name). We name
 * each such popup after the field that opened it: the trigger carries `aria-controls` with the
 * popup's id, and its input has a `<label>` (or an aria-label). A field without either gets the
 * generic name.
 */

const PICKER = '.el-picker__popper[role="dialog"]'
const UNNAMED = `${PICKER}:not([aria-label]):not([aria-labelledby])`
const OURS = `${PICKER}[data-named-by-hotline]`

/** The name a picker popup should carry: its field's label, else `fallback`. */
export function popupName(popup: Element, fallback: string): string {
  const doc = popup.ownerDocument
  const trigger = popup.id ? doc.querySelector(`[aria-controls="${CSS.escape(popup.id)}"]`) : null
  const input = trigger?.matches('input') ? trigger : trigger?.querySelector('input')
  const label =
    (input instanceof HTMLInputElement && input.labels?.[0]?.textContent?.trim()) ||
    input?.getAttribute('aria-label')?.trim()
  return label || fallback
}

export interface PopupNamer {
  /** Name again the popups we named (after a language switch relabels their fields). */
  rename(): void
  stop(): void
}

/** Name every unnamed picker popup under `root`, now and whenever one is added. */
export function namePickerPopups(root: HTMLElement, fallback: () => string): PopupNamer {
  const name = (popup: Element) => {
    popup.setAttribute('aria-label', popupName(popup, fallback()))
    popup.setAttribute('data-named-by-hotline', '')
  }
  const nameWithin = (node: Node) => {
    if (!(node instanceof Element)) return
    if (node.matches(UNNAMED)) name(node)
    node.querySelectorAll(UNNAMED).forEach(name)
  }
  nameWithin(root)
  // Only added nodes are looked at: the wallboard's live updates add no pickers and stay cheap.
  const observer = new MutationObserver((records) => {
    for (const record of records) record.addedNodes.forEach(nameWithin)
  })
  observer.observe(root, { childList: true, subtree: true })
  return {
    rename: () => root.querySelectorAll(OURS).forEach(name),
    stop: () => observer.disconnect(),
  }
}
