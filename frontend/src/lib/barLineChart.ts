// A bars-and-line ECharts canvas (the wallboard's intervals, the staffing result). Imported only
// by components that are themselves loaded on demand, so ECharts stays in its own chunk; only
// the parts these charts use are registered.
import { onMounted, onUnmounted, shallowRef, watch, type Ref, type WatchSource } from 'vue'
import { BarChart, LineChart } from 'echarts/charts'
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components'
import { init, use, type EChartsCoreOption, type EChartsType } from 'echarts/core'
import { CanvasRenderer } from 'echarts/renderers'

use([BarChart, LineChart, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer])

/**
 * Draw `option()` into `el` once mounted and again whenever `sources` change (replacing, not
 * merging, the previous option); follow the element's size; dispose of it on unmount.
 */
export function useBarLineChart(
  el: Ref<HTMLElement | null>,
  option: () => EChartsCoreOption,
  sources: WatchSource[],
): void {
  const chart = shallowRef<EChartsType | null>(null)
  const render = () => chart.value?.setOption(option(), { notMerge: true })
  let observer: ResizeObserver | null = null
  onMounted(() => {
    if (!el.value) return
    chart.value = init(el.value, undefined, { renderer: 'canvas' })
    render()
    observer = new ResizeObserver(() => chart.value?.resize())
    observer.observe(el.value)
  })
  onUnmounted(() => {
    observer?.disconnect()
    chart.value?.dispose()
  })
  watch(sources, render)
}
