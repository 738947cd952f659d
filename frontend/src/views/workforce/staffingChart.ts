// The staffing chart's ECharts option from plain data (no ECharts import: tested without a
// canvas). Bars: calls per interval (left axis); line: agents needed (right axis).

export interface ChartTexts {
  calls: string
  agents: string
}

// The wallboard's palette (AA contrast on white).
const CALLS = '#1d4f91'
const AGENTS = '#b42318'
const FG = '#3c4043'
const GRID = '#e4e7ed'

export function staffingChartOption(labels: string[], calls: number[], agents: number[], texts: ChartTexts) {
  const axisLabel = { color: FG, fontSize: 12 }
  return {
    animation: false,
    textStyle: { color: FG, fontSize: 12 },
    legend: { top: 0, textStyle: { color: FG } },
    tooltip: { trigger: 'axis' },
    grid: { left: 56, right: 56, top: 40, bottom: 28 },
    xAxis: { type: 'category', data: labels, axisLabel, axisLine: { lineStyle: { color: GRID } } },
    yAxis: [
      { type: 'value', name: texts.calls, axisLabel, nameTextStyle: { color: FG }, splitLine: { lineStyle: { color: GRID } } },
      { type: 'value', name: texts.agents, minInterval: 1, axisLabel, nameTextStyle: { color: FG }, splitLine: { show: false } },
    ],
    series: [
      { name: texts.calls, type: 'bar', data: calls, color: CALLS, barMaxWidth: 24 },
      {
        name: texts.agents,
        type: 'line',
        yAxisIndex: 1,
        step: 'middle',
        data: agents,
        color: AGENTS,
        lineStyle: { width: 2 },
        symbolSize: 6,
      },
    ],
  }
}
