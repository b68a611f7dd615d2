/** Synchronous waiting, for single-shot commands that have nothing else to do meanwhile. */
const sleeper = new Int32Array(new SharedArrayBuffer(4));

export function sleepSync(milliseconds: number): void {
  Atomics.wait(sleeper, 0, 0, milliseconds);
}

/** Polls `done` with a growing pause until it holds or `timeoutMs` passes; returns whether it held. */
export function pollUntil(done: () => boolean, timeoutMs: number): boolean {
  const deadline = Date.now() + timeoutMs;
  let pause = 1;
  while (!done()) {
    if (Date.now() >= deadline) return false;
    sleepSync(pause);
    pause = Math.min(pause * 2, 50);
  }
  return true;
}
