// Words the agent desktop, the wallboard and the routing admin share (agent states, not-ready
// reasons, channels): English. Same keys as agent.zh-CN.ts.
import type { AgentMessages } from './agent.zh-CN'

const agentEn: AgentMessages = {
  states: {
    logged_out: 'Logged out',
    ready: 'Ready',
    not_ready: 'Not ready',
    reserved: 'Ringing',
    busy: 'Busy',
    wrap_up: 'Wrap-up',
  },
  reasons: {
    break: 'Break',
    meal: 'Meal',
    training: 'Training',
    meeting: 'Meeting',
    coaching: 'Coaching',
    system_fault: 'System fault',
    missed: 'Missed offer',
    login: 'Just logged in',
    personal: 'Personal',
    offline_work: 'Offline work',
    supervisor: 'Set by team lead',
    other: 'Other',
  },
  channels: {
    voice: 'Voice',
    chat: 'Chat',
    email: 'Email',
    sms: 'SMS',
    social: 'Social media',
    work_item: 'Work item',
  },
}

export default agentEn
