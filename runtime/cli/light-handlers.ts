/**
 * The verbs the small entry (light-main.ts) answers by itself: read-only or a signal, nothing
 * that loads koffi, yargs or the cgroup code. handlers.ts uses these same handlers.
 */
import type { GlobalArgs } from './global-options.js';
import { writeOut } from './output.js';
import { containerState, formatTable, listContainers } from '../container/query.js';
import { parseSignal } from '../container/signals.js';
import { killContainer } from '../container/kill.js';

interface IdArgs extends GlobalArgs {
  id: string;
}

type Handler<A> = (args: A) => Promise<void>;

export const LIGHT_HANDLERS = {
  state: (async (args) => {
    writeOut(`${JSON.stringify(containerState(args.root, args.id), null, 2)}\n`);
  }) as Handler<IdArgs>,
  kill: (async (args) => {
    await killContainer(args.root, args.id, parseSignal(args.signal), args.all);
  }) as Handler<IdArgs & { signal: string; all: boolean }>,
  list: (async (args) => {
    const states = listContainers(args.root);
    if (args.quiet) writeOut(states.map((s) => `${s['id']}\n`).join(''));
    else if (args.format === 'json') writeOut(`${JSON.stringify(states)}\n`);
    else writeOut(formatTable(states));
  }) as Handler<GlobalArgs & { format: 'table' | 'json'; quiet: boolean }>,
};

export type LightVerb = keyof typeof LIGHT_HANDLERS;

/** kill --all signals through the cgroup code, which only the whole CLI carries. */
export function lightVerbOf(verb: string, args: Record<string, unknown>): LightVerb | undefined {
  if (verb === 'kill' && args['all'] === true) return undefined;
  return verb === 'state' || verb === 'list' || verb === 'kill' ? verb : undefined;
}
