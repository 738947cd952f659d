// 预约回呼列表（坐席工作台“我的预约回呼”、班组管理的技能组预约回呼）：简体中文。
// en: callbacks.en.ts（同样的键，由本文件的类型检查）。
const callbacksZhCN = {
  mineTitle: '我的预约回呼',
  teamTitle: '预约回呼',
  teamQueue: '技能组：{queue}',
  empty: '没有待回呼的预约',
  loadError: '预约回呼加载失败：{message}',
  tableLabel: '预约回呼列表，按回呼时间排序',
  dueAt: '回呼时间',
  caller: '客户号码',
  queue: '技能组',
  requestedBy: '预约坐席',
  note: '备注',
  actions: '操作',
  unknownCaller: '未知',
  move: '改约',
  moveFor: '改约 {time} 的回呼',
  cancel: '取消预约',
  cancelFor: '取消 {time} 的回呼',
  moveTitle: '改约回呼',
  moveDue: '新的回呼时间（本机时间）',
  moveQueue: '回呼技能组',
  moveSubmit: '改约',
  moved: '回呼已改约到 {time}',
  cancelTitle: '取消预约回呼',
  cancelText: '取消后不再回呼 {caller}（原定 {time}）。',
  cancelReason: '取消原因（可选）',
  cancelSubmit: '取消预约',
  cancelled: '已取消 {time} 的预约回呼',
}

export type CallbacksMessages = typeof callbacksZhCN
export default callbacksZhCN
