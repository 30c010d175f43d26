// The command registry: one line per command, `export { command as <name> } from './<file>';`.
// The CLI lists and dispatches every `Command` exported here.
export { command as backend } from './backend';
export { command as config } from './config';
export { command as version } from './version';
export { command as initModel } from './initModel';
export { command as serve } from './serve';
export { command as sft } from './sft';
export { command as grpo } from './grpo';
export { command as dpo } from './dpo';
export { command as gkd } from './gkd';
export { command as report } from './report';
export { command as eval } from './eval';
export { command as generate } from './generate';
export { command as mergeAdapter } from './mergeAdapter';
export { command as train } from './train';
export { command as compare } from './compare';
export { command as sweep } from './sweep';
