// Child process for the SIGKILL test: saves checkpoints forever with payloads
// whose bytes are derived from the step, so the parent can verify content.
import { CheckpointManager } from '../src/checkpointManager';

const [root, sizeArg] = process.argv.slice(2);
const size = Number(sizeArg);
const mgr = new CheckpointManager(root!, { keepTopK: 2 });
for (let step = 1; ; step++) {
  const payload = new Uint8Array(size).fill(step % 251);
  mgr.save({ step, files: { 'weights.bin': payload, 'state.json': JSON.stringify({ step }) } });
  if (step === 1) process.stdout.write('first\n');
}
