// Scheduled callback lists (the desk's "My callbacks", the team view's queue callbacks):
// English. Same keys as callbacks.zh-CN.ts (typed by it).
import type { CallbacksMessages } from './callbacks.zh-CN'

const callbacksEn: CallbacksMessages = {
  mineTitle: 'My callbacks',
  teamTitle: 'Scheduled callbacks',
  teamQueue: 'Queue: {queue}',
  empty: 'No callbacks scheduled',
  loadError: 'Could not load the callbacks: {message}',
  tableLabel: 'Scheduled callbacks, by time',
  dueAt: 'Call back at',
  caller: 'Caller',
  queue: 'Queue',
  requestedBy: 'Scheduled by',
  note: 'Note',
  actions: 'Actions',
  unknownCaller: 'Unknown',
  move: 'Move',
  moveFor: 'Move the callback at {time}',
  cancel: 'Cancel callback',
  cancelFor: 'Cancel the callback at {time}',
  moveTitle: 'Move the callback',
  moveDue: 'New time (your local time)',
  moveQueue: 'Queue for the callback',
  moveSubmit: 'Move',
  moved: 'Callback moved to {time}',
  cancelTitle: 'Cancel the callback',
  cancelText: 'Nobody will call {caller} back (it was due at {time}).',
  cancelReason: 'Reason (optional)',
  cancelSubmit: 'Cancel callback',
  cancelled: 'Callback at {time} cancelled',
}

export default callbacksEn
