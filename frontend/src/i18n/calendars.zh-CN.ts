// 营业时间（业务日历）页面。registered as `calendars` in zh-CN.ts; calendars.en.ts has the
// same keys. The API's error keys (errors.calendar.*) are `calendarErrors`, registered as
// errors.calendar in zh-CN.ts, so the shared display (lib/format problemMessage) finds them
// wherever they come back (this page, and PATCH /api/entry-points with a calendar_id).

const calendarsZhCN = {
  page: '营业时间',
  hint: '入口（接入号码）可以关联一个营业时间：营业时间以外到达的来电或消息直接记为“非营业时间”，不进入排队（语音导航播放下班提示，在线客服显示营业时间）。未关联营业时间的入口全天候开放，例如 96266 热线。',
  create: '新建营业时间',
  editTitle: '编辑营业时间：{name}',
  viewTitle: '营业时间：{name}',
  created: '营业时间 {name} 已创建',
  saved: '营业时间 {name} 已保存',
  fields: {
    code: '代码',
    name: '名称',
    timezone: '时区',
    weekly: '每周营业时间',
    hours: '营业时段',
    status: '当前状态',
    nextChange: '下次变化（日历所在时区）',
    overrides: '特殊日期',
    date: '日期',
    dayKind: '当天',
    note: '备注',
  },
  hints: {
    code: '小写字母开头，可含小写字母、数字、_ 和 -；创建后不能修改',
    timezone: '营业时段按此时区的当地时间计算。',
    weekly: '每天可设多个时段（例如午休分开），时段为 [开始, 结束)，结束可为 24:00；没有时段的日子全天休息。',
    overrides: '特殊日期的安排替代当天的每周营业时间：法定节假日设为全天休息，调休上班日设为营业并填写时段。',
  },
  weekdays: {
    mon: '周一',
    tue: '周二',
    wed: '周三',
    thu: '周四',
    fri: '周五',
    sat: '周六',
    sun: '周日',
  },
  dayRange: '{from}至{to}',
  listSep: '、',
  status: {
    open: '营业中',
    closed: '休息中',
    unknown: '未知',
    closesAt: '{time} 结束营业',
    opensAt: '{time} 开始营业',
    noChange: '400 天内不变',
  },
  week: {
    closed: '休息',
    addSpan: '添加时段',
    remove: '删除',
    addSpanTo: '为{day}添加时段',
    removeSpan: '删除{day}第 {n} 个时段',
    spanStart: '{day}第 {n} 个时段开始时间',
    spanEnd: '{day}第 {n} 个时段结束时间',
    copyMonday: '将周一复制到周二至周五',
    copied: '已将周一的时段复制到周二至周五',
    allClosed: '每周都不营业（只在特殊日期营业）',
  },
  overrides: {
    add: '添加特殊日期',
    none: '没有特殊日期',
    closed: '全天休息',
    open: '营业（特殊时段）',
    item: '特殊日期 {n}',
    remove: '删除特殊日期 {n}',
    dateLabel: '特殊日期 {n} 的日期',
    notePlaceholder: '例如：元旦、春节调休',
    kindLabel: '特殊日期 {n} 当天安排',
    count: '{n} 个特殊日期',
  },
  actions: {
    edit: '编辑',
    editItem: '编辑 {name}',
    view: '查看',
    viewItem: '查看 {name}',
  },
  form: {
    fixErrors: '有 {n} 处需要修改，请查看标红的项目。',
    serverInvalid: '服务器拒绝：{message}',
  },
  validation: {
    required: '此项为必填项',
    code: '代码须以小写字母开头，只含小写字母、数字、_ 和 -，最多 64 个字符',
    tooLong: '最多 {max} 个字符',
    time: '时间格式应为 HH:MM，介于 00:00 和 24:00 之间',
    startBeforeEnd: '开始时间须早于结束时间',
    overlap: '时段 {a} 与 {b} 重叠',
    tooManySpans: '每天最多 {max} 个时段',
    tooManyOverrides: '最多 {max} 个特殊日期',
    date: '日期格式应为 YYYY-MM-DD',
    dateTwice: '{date} 重复出现',
    needSpans: '请添加营业时段，或改为全天休息',
  },
}

/** Translations of the API's `errors.calendar.*` keys (no parameters: the fields say where). */
export const calendarErrorsZhCN = {
  exists: '已有这个代码的营业时间。',
  not_found: '营业时间不存在。',
  note_too_long: '备注最多 100 个字符。',
  override_twice: '同一日期出现了两次。',
  span_invalid: '营业时段的开始时间须早于结束时间，且在 00:00–24:00 之内。',
  spans_overlap: '营业时段相互重叠。',
  time_invalid: '时间格式应为 HH:MM，介于 00:00 和 24:00 之间。',
  timezone_invalid: '未知的时区（请使用 IANA 名称，例如 Asia/Shanghai）。',
  too_many_overrides: '特殊日期过多（最多 400 个）。',
  too_many_spans: '每天最多 8 个营业时段。',
  weekday_invalid: '未知的星期名称。',
}

export default calendarsZhCN
export type CalendarsMessages = typeof calendarsZhCN
export type CalendarErrorMessages = typeof calendarErrorsZhCN
