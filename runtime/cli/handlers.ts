/**
 * What each verb does with its parsed arguments. Each handler imports its implementation
 * lazily, so that a command loads only what it uses (every command pays Node's start-up).
 * The argument shapes follow flags.ts; yargs and the fast parser both produce them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { TsruncError } from '../errors.js';
import type { GlobalArgs } from './global-options.js';
import type { VerbName } from './flags.js';
import type { UpdateFlags } from '../container/update.js';
import { writeOut } from './output.js';
import { LIGHT_HANDLERS } from './light-handlers.js';
import type { ExecArgs } from './exec-handler.js';

interface IdArgs extends GlobalArgs {
  id: string;
}

interface CreateArgs extends IdArgs {
  bundle?: string;
  pidFile?: string;
  noPivot: boolean;
  consoleSocket?: string;
  preserveFds: number;
  noNewKeyring: boolean;
}

type Handler<A> = (args: A) => Promise<void>;

export const HANDLERS = {
  create: (async (args) => {
    const { createContainer } = await import('../container/create.js');
    await createContainer({
      root: args.root, id: args.id, bundle: args.bundle, pidFile: args.pidFile, noPivot: args.noPivot, keepChild: false,
      consoleSocket: args.consoleSocket, preserveFds: args.preserveFds, rootless: args.rootless, noNewKeyring: args.noNewKeyring,
      systemdCgroup: args.systemdCgroup,
    });
  }) as Handler<CreateArgs>,
  start: (async (args) => {
    const { startContainer } = await import('../container/start.js');
    startContainer(args.root, args.id);
  }) as Handler<IdArgs>,
  state: LIGHT_HANDLERS.state,
  kill: LIGHT_HANDLERS.kill,
  delete: LIGHT_HANDLERS.delete,
  run: (async (args) => {
    const { runContainer } = await import('../container/run.js');
    process.exitCode = await runContainer({
      root: args.root, id: args.id, bundle: args.bundle, pidFile: args.pidFile, noPivot: args.noPivot, detach: args.detach,
      consoleSocket: args.consoleSocket, preserveFds: args.preserveFds, rootless: args.rootless, noNewKeyring: args.noNewKeyring,
      systemdCgroup: args.systemdCgroup, keep: args.keep, noSubreaper: args.noSubreaper,
    });
  }) as Handler<CreateArgs & { detach: boolean; keep: boolean; noSubreaper: boolean }>,
  exec: (async (args) => {
    const { execHandler } = await import('./exec-handler.js');
    await execHandler(args as unknown as ExecArgs);
  }) as Handler<IdArgs>,
  list: LIGHT_HANDLERS.list,
  pause: (async (args) => {
    const { pauseContainer } = await import('../container/pause.js');
    pauseContainer(args.root, args.id);
  }) as Handler<IdArgs>,
  resume: (async (args) => {
    const { resumeContainer } = await import('../container/pause.js');
    resumeContainer(args.root, args.id);
  }) as Handler<IdArgs>,
  update: (async (args) => {
    const { updateContainer } = await import('../container/update.js');
    updateContainer(args.root, args.id, args);
  }) as Handler<IdArgs & UpdateFlags>,
  ps: (async (args) => {
    const psOptions = args._.slice(1).map(String);
    const { containerPids, formatProcessTable, psWithOptions } = await import('../container/ps.js');
    const pids = containerPids(args.root, args.id);
    if (args.format === 'json') writeOut(`${JSON.stringify(pids)}\n`);
    else writeOut(psOptions.length > 0 ? psWithOptions(pids, psOptions) : formatProcessTable(pids));
  }) as Handler<IdArgs & { format: 'table' | 'json'; _: (string | number)[] }>,
  events: (async (args) => {
    const { statsEvent, streamEvents } = await import('../container/events.js');
    const { parseDuration } = await import('../container/units.js');
    if (args.stats) writeOut(`${JSON.stringify(statsEvent(args.root, args.id))}\n`);
    else await streamEvents(args.root, args.id, parseDuration(args.interval, '--interval'), (event) => writeOut(`${JSON.stringify(event)}\n`));
  }) as Handler<IdArgs & { stats: boolean; interval: string }>,
  features: (async () => {
    const { features } = await import('../container/features.js');
    writeOut(`${JSON.stringify(await features(), null, 2)}\n`);
  }) as Handler<GlobalArgs>,
  check: (async (args) => {
    const { checkBundle } = await import('../container/check.js');
    const report = checkBundle({ root: args.root, bundle: args.bundle, rootless: args.rootless });
    if (args.format === 'json') {
      writeOut(`${JSON.stringify({ ...report, ok: report.problems.length === 0 }, null, 2)}\n`);
    } else {
      const line = (prefix: string) => (p: { path: string; message: string }) => `${prefix}config.json ${p.path || '(file)'}: ${p.message}\n`;
      writeOut([...report.problems.map(line('')), ...report.warnings.map(line('warning: '))].join(''));
      if (report.problems.length === 0) writeOut(`${report.bundle}: no problems found: create would get past its checks\n`);
    }
    if (report.problems.length > 0) process.exitCode = 1;
  }) as Handler<GlobalArgs & { bundle?: string; format: 'text' | 'json' }>,
  explain: (async (args) => {
    const { explainBundle } = await import('../container/explain.js');
    const explanation = explainBundle({
      root: args.root, id: args.id, bundle: args.bundle, noPivot: args.noPivot, noNewKeyring: args.noNewKeyring,
      consoleSocket: args.consoleSocket, rootless: args.rootless, systemdCgroup: args.systemdCgroup,
    });
    if (args.format === 'json') {
      writeOut(`${JSON.stringify(explanation, null, 2)}\n`);
    } else {
      const { explainText } = await import('../container/explain-text.js');
      writeOut(explainText(explanation));
    }
  }) as Handler<CreateArgs & { format: 'text' | 'json' }>,
  spec: (async (args) => {
    const { defaultConfig } = await import('../spec/default-config.js');
    const file = path.join(path.resolve(args.bundle ?? '.'), 'config.json');
    if (fs.existsSync(file)) throw new TsruncError(`File ${file} exists. Remove it first.`);
    // runc's `spec --rootless` is a flag of spec's own; the global --rootless takes a value, so a
    // bare --rootless after the verb means spec's.
    const afterVerb = process.argv.slice(process.argv.indexOf('spec') + 1);
    const rootlessSpec = afterVerb.includes('--rootless') && !['true', 'false', 'auto'].includes(afterVerb[afterVerb.indexOf('--rootless') + 1] ?? '');
    let config = defaultConfig();
    if (rootlessSpec) {
      const { toRootless } = await import('../spec/rootless-config.js');
      config = toRootless(config, process.geteuid!(), process.getegid!());
    }
    fs.writeFileSync(file, `${JSON.stringify(config, null, '\t')}\n`, { mode: 0o666 });
  }) as Handler<GlobalArgs & { bundle?: string }>,
  checkpoint: (async () => {
    throw new TsruncError('checkpoint is not implemented: tsrunc has no CRIU support');
  }) as Handler<IdArgs>,
  restore: (async () => {
    throw new TsruncError('restore is not implemented: tsrunc has no CRIU support');
  }) as Handler<IdArgs>,
} satisfies Record<VerbName, Handler<never>>;

/**
 * yargs infers argument types from builder chains, which does not survive lazy handlers; each
 * handler states the arguments it reads instead, which flags.ts's table must provide.
 */
export function handlerFor(verb: VerbName): (args: Record<string, unknown>) => Promise<void> {
  return HANDLERS[verb] as unknown as (args: Record<string, unknown>) => Promise<void>;
}
