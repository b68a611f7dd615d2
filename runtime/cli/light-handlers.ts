/**
 * The verbs the small entry (light-main.ts) answers by itself: the ones managers call most.
 * state, list and kill read or signal and load neither koffi nor yargs; delete and kill --all
 * load their own modules (the lock, the cgroup code) only when they run. handlers.ts uses these
 * same handlers.
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
  delete: (async (args) => {
    const { deleteContainer } = await import('../container/delete.js');
    deleteContainer(args.root, args.id, args.force);
  }) as Handler<IdArgs & { force: boolean }>,
  list: (async (args) => {
    const states = listContainers(args.root);
    if (args.quiet) writeOut(states.map((s) => `${s['id']}\n`).join(''));
    else if (args.format === 'json') writeOut(`${JSON.stringify(states)}\n`);
    else writeOut(formatTable(states));
  }) as Handler<GlobalArgs & { format: 'table' | 'json'; quiet: boolean }>,
};

export type LightVerb = keyof typeof LIGHT_HANDLERS;

export function lightVerbOf(verb: string): LightVerb | undefined {
  return verb === 'state' || verb === 'list' || verb === 'kill' || verb === 'delete' ? verb : undefined;
}
