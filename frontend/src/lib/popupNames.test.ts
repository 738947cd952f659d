import { afterEach, describe, expect, it } from 'vitest'
import { namePickerPopups } from './popupNames'

const flush = () => new Promise((resolve) => setTimeout(resolve, 0))

describe('picker popup names', () => {
  afterEach(() => {
    document.body.innerHTML = ''
  })

  function field(popupId: string, label: string | null): void {
    document.body.insertAdjacentHTML(
      'beforeend',
      `${label ? `<label for="in-${popupId}">${label}</label>` : ''}
       <div class="el-date-editor" aria-controls="${popupId}"><input id="in-${popupId}"></div>`,
    )
  }

  function popup(id: string): HTMLElement {
    const el = document.createElement('div')
    el.id = id
    el.className = 'el-popper el-picker__popper'
    el.setAttribute('role', 'dialog')
    return el
  }

  it('names a popup after the label of the field that opened it, when it appears', async () => {
    field('p1', '新的回呼时间（本机时间）')
    const namer = namePickerPopups(document.body, () => '选择日期')
    const container = document.createElement('div')
    container.append(popup('p1'))
    document.body.append(container)
    await flush()
    expect(document.getElementById('p1')!.getAttribute('aria-label')).toBe('新的回呼时间（本机时间）')
    namer.stop()
  })

  it('falls back to the generic name, keeps names set by the page, renames its own', async () => {
    field('p2', null)
    const named = popup('p3')
    named.setAttribute('aria-label', 'Own name')
    document.body.append(popup('p2'), named)
    let fallback = '选择日期'
    const namer = namePickerPopups(document.body, () => fallback)
    expect(document.getElementById('p2')!.getAttribute('aria-label')).toBe('选择日期')
    expect(named.getAttribute('aria-label')).toBe('Own name')
    fallback = 'Choose a date'
    namer.rename()
    expect(document.getElementById('p2')!.getAttribute('aria-label')).toBe('Choose a date')
    expect(named.getAttribute('aria-label')).toBe('Own name')
    namer.stop()
  })
})
