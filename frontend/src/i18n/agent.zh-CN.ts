// Words the agent desktop, the wallboard and the routing admin share (坐席状态、示忙原因、渠道):
// 简体中文. Registered as `agent` in zh-CN.ts; agent.en.ts has the same keys (TypeScript and
// src/i18n/i18n.test.ts check it). No @ $ | characters in messages.

const agentZhCN = {
  states: {
    logged_out: '未签入',
    ready: '空闲',
    not_ready: '示忙',
    reserved: '振铃中',
    busy: '处理中',
    wrap_up: '话后处理',
  },
  reasons: {
    break: '小休',
    meal: '用餐',
    training: '培训',
    meeting: '会议',
    coaching: '辅导',
    system_fault: '系统故障',
    missed: '未接来电',
    login: '刚签入',
    personal: '个人事务',
    offline_work: '离线工作',
    supervisor: '班长设置',
    other: '其他',
  },
  channels: {
    voice: '语音',
    chat: '在线客服',
    email: '邮件',
    sms: '短信',
    social: '社交媒体',
    work_item: '工单',
  },
}

export type AgentMessages = typeof agentZhCN
export default agentZhCN
