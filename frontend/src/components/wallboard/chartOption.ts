// The interval chart's ECharts option, built from plain data (no ECharts import here, so it
// is tested without a canvas).
import type { IntervalPoint } from './model'

export interface ChartTexts {
  offered: string
  answered: string
  abandoned: string
  serviceLevel: string
  count: string
  tv: boolean
}

// Colours that keep AA contrast against white (board) and near-black (TV).
const LIGHT = { offered: '#1d4f91', answered: '#1e7b34', abandoned: '#b42318', sl: '#8a5a00' }
const DARK = { offered: '#7fb2ff', answered: '#4ade80', abandoned: '#ff8a80', sl: '#fbbf24' }

/** "08:15" in the center's time zone (the browser's when none is given). */
export function intervalLabel(iso: string, locale: string, timeZone?: string): string {
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  return new Intl.DateTimeFormat(locale, {
    hour: '2-digit',
    minute: '2-digit',
    hour12: false,
    timeZone,
  }).format(d)
}

export function chartOption(points: IntervalPoint[], labels: string[], texts: ChartTexts) {
  const c = texts.tv ? DARK : LIGHT
  const fg = texts.tv ? '#e6edf3' : '#3c4043'
  const grid = texts.tv ? '#3a4654' : '#e4e7ed'
  const size = texts.tv ? 18 : 12
  const axisLabel = { color: fg, fontSize: size }
  return {
    animation: false,
    textStyle: { color: fg, fontSize: size },
    legend: { top: 0, textStyle: { color: fg, fontSize: size } },
    tooltip: { trigger: 'axis' },
    grid: { left: 48, right: 48, top: texts.tv ? 48 : 36, bottom: 28 },
    xAxis: {
      type: 'category',
      data: labels,
      axisLabel,
      axisLine: { lineStyle: { color: grid } },
    },
    yAxis: [
      {
        type: 'value',
        name: texts.count,
        minInterval: 1,
        axisLabel,
        nameTextStyle: { color: fg },
        splitLine: { lineStyle: { color: grid } },
      },
      {
        type: 'value',
        name: '%',
        min: 0,
        max: 100,
        axisLabel,
        nameTextStyle: { color: fg },
        splitLine: { show: false },
      },
    ],
    series: [
      {
        name: texts.offered,
        type: 'bar',
        data: points.map((p) => p.offered),
        color: c.offered,
        barMaxWidth: texts.tv ? 36 : 24,
      },
      {
        name: texts.answered,
        type: 'bar',
        data: points.map((p) => p.answered),
        color: c.answered,
        barMaxWidth: texts.tv ? 36 : 24,
      },
      {
        name: texts.abandoned,
        type: 'bar',
        data: points.map((p) => p.abandoned),
        color: c.abandoned,
        barMaxWidth: texts.tv ? 36 : 24,
      },
      {
        name: texts.serviceLevel,
        type: 'line',
        yAxisIndex: 1,
        data: points.map((p) => p.service_level_percent),
        color: c.sl,
        connectNulls: true,
        lineStyle: { width: texts.tv ? 4 : 2 },
        symbolSize: texts.tv ? 10 : 6,
      },
    ],
  }
}
