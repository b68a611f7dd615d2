/**
 * Driving the native stage directly, without a container: a test gives it a batch and answers
 * what it asks. Used to check single operations (open-in-root) and the plan encoding.
 */
import { startStage } from '../../runtime/linux/stage-process.js';
import { O_DIRECTORY, O_PATH } from '../../runtime/linux/libc.js';
import { FIRST_RUNTIME_SLOT, type CreateKind, type StageOp } from '../../runtime/plan/ops.js';

/**
 * Where `containerPath` lands when the stage resolves it inside `root` (creating it as `create`
 * says): the "/"-rooted path. `judge` sees every path the stage asks about (one that differs
 * from `containerPath`) and may refuse it. Throws the stage's error line.
 */
export async function landing(root: string, containerPath: string, create: CreateKind = 'no', judge: (resolved: string) => boolean = () => true): Promise<string> {
  const session = startStage(['ignore', 'ignore', 'ignore', 'pipe'], ['test', 'landing']);
  const rootSlot = FIRST_RUNTIME_SLOT;
  const ops: StageOp[] = [
    { op: 'close-from', label: 'test', first: 4 },
    { op: 'open', label: 'test', dir: null, path: root, flags: O_PATH | O_DIRECTORY, mode: 0, into: rootSlot },
    { op: 'open-in-root', label: 'test', root: rootSlot, path: containerPath, create, into: rootSlot + 1, check: 0 },
    // Once more without creating: it reports (check 1) only where it landed elsewhere.
    { op: 'open-in-root', label: 'test', root: rootSlot, path: containerPath, create: 'no', into: rootSlot + 2, check: 1 },
    { op: 'send', label: 'test', message: { type: 'landed' } },
  ];
  session.send(ops);
  let landed = containerPath;
  try {
    for (;;) {
      const message = session.next();
      if (message.type === 'resolved') {
        const resolved = String(message['path']);
        if (message['check'] === 1) landed = resolved;
        session.send(judge(resolved) ? [] : [{ op: 'fail', label: 'test', message: `refused ${resolved}` }]);
      } else if (message.type === 'landed') {
        return landed;
      } else if (message.type === 'error') {
        throw new Error(String(message['message']));
      } else {
        throw new Error(`the stage ended: ${JSON.stringify(message)}`);
      }
    }
  } finally {
    session.close();
  }
}
