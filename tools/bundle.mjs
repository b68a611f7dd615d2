// Build step, run after tsc: bundles tsc's output into dist/bundle/, so that a tsrunc command
// reads one file instead of resolving and loading ~60 ES modules (yargs alone is about 30):
// - tsrunc.cjs: the entry users run, small (runtime/cli/light-main.ts): --version, state, list,
//   kill and delete (delete's code, and the cgroup code kill --all uses, in tsrunc-delete.cjs and
//   tsrunc-cgroups.cjs, read only by those); exec requires tsrunc-exec.cjs (exec's modules only);
//   any other command line requires tsrunc-full.cjs, the whole CLI. CommonJS, because
//   Node 20's ES module loader costs every command ~15 ms before our code runs (async source
//   loading through fs/promises, a facade per builtin); a CommonJS file starts as fast as
//   `node -e 0` plus its own parse, which is why the everyday verbs get a file of their own.
//   In the whole CLI the verbs' modules run only when the verb is used (esbuild wraps the
//   handlers' dynamic imports).
// - validate-config.cjs, validate-state.cjs: ajv's precompiled validators (~250 KB), parsed
//   only by the commands that validate (create, and the tests), not by every command.
// Left out, loaded from node_modules (which is why the bundle lives in dist/ of the checkout or
// of the installed copy): koffi, a native addon; yargs, ES-module only, imported only for
// --help, usage errors and the verbs the fast parser leaves to it.
import { chmodSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { build } from 'esbuild';

const requireBuiltin = createRequire(import.meta.url);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const outdir = join(dist, 'bundle');

/** The generated validators, imported from runtime/spec/validate.ts, become their own files. */
const validatorsApart = {
  name: 'validators-apart',
  setup(bundle) {
    bundle.onResolve({ filter: /\/generated\/validate-(config|state)\.js$/ }, (args) => ({
      path: `./${args.path.split('/').pop().replace(/\.js$/, '.cjs')}`,
      external: true,
    }));
  },
};

/**
 * Built-in modules that cost milliseconds to load and that most commands never use: each
 * becomes a stand-in whose default export's properties (the names listed now, by this same
 * Node) load the real module on first use. node:crypto (~6 ms with the streams it pulls in) is only for the
 * default cgroup name at create, yet the cgroup code that every `delete` loads imports it;
 * node:module (~0.4 ms) only for createRequire in the rare paths that need it.
 */
const LAZY_BUILTINS = ['node:crypto', 'node:module'];
const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(bundle) {
    const filter = new RegExp(`^(${LAZY_BUILTINS.join('|')})$`);
    bundle.onResolve({ filter }, (args) =>
      args.namespace === 'lazy-builtin' ? { path: args.path, external: true } : { path: args.path, namespace: 'lazy-builtin' });
    bundle.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, async (args) => {
      // Only a default export (an ES module, so importers share it without copying its ~80
      // properties); a named import of a lazy builtin fails the build instead of loading it.
      const names = Object.keys(await import(args.path)).filter((name) => name !== 'default');
      const real = `let real; const load = () => (real ??= require(${JSON.stringify(args.path)}));`;
      const getters = names.map((name) => `  get ${JSON.stringify(name)}() { return load()[${JSON.stringify(name)}]; },`);
      return { contents: [real, 'export default {', ...getters, '};'].join('\n'), loader: 'js' };
    });
  },
};

/**
 * Every other built-in module once per bundle: esbuild turns each module's `import fs from
 * 'node:fs'` into its own __toESM(require('node:fs')), which copies the builtin's ~100
 * properties into a fresh object: ~2 ms per command over a few dozen modules. A stand-in ES
 * module that requires the builtin once is shared by every importer instead.
 */
const sharedBuiltins = {
  name: 'shared-builtins',
  setup(bundle) {
    bundle.onResolve({ filter: /^node:/ }, (args) => {
      if (LAZY_BUILTINS.includes(args.path)) return undefined;
      return args.namespace === 'shared-builtin' ? { path: args.path, external: true } : { path: args.path, namespace: 'shared-builtin' };
    });
    bundle.onLoad({ filter: /.*/, namespace: 'shared-builtin' }, (args) => {
      // Plain values only: a getter (fs.promises) would load or warn when the stand-in runs.
      const real = requireBuiltin(args.path);
      const names = Object.keys(real).filter((name) => /^[A-Za-z_$][\w$]*$/.test(name) && 'value' in Object.getOwnPropertyDescriptor(real, name));
      const lines = [`const real = require(${JSON.stringify(args.path)});`, 'export default real;'];
      for (const name of names) lines.push(`export const ${name} = real.${name};`);
      return { contents: lines.join('\n'), loader: 'js' };
    });
  },
};

/** The commit `tsrunc --version` names: HEAD of the checkout ("-dirty" with changes), or unknown outside git. */
function gitCommit() {
  try {
    const head = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    return dirty ? `${head}-dirty` : head;
  } catch {
    return 'unknown';
  }
}

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['koffi', 'yargs'],
  // Every module of the bundle sees the bundle's own URL (install-paths.ts counts on it).
  define: { 'import.meta.url': '__tsruncBundleUrl', __TSRUNC_COMMIT__: JSON.stringify(gitCommit()) },
  banner: { js: '"use strict";\nvar __tsruncBundleUrl = require("node:url").pathToFileURL(__filename).href;' },
  legalComments: 'none',
  logLevel: 'warning',
};
const plugins = [validatorsApart, lazyBuiltins, sharedBuiltins];

/**
 * The small entry answers state, list, kill and delete and hands anything else to
 * tsrunc-full.cjs by require(); what it reaches only in the unbundled layout
 * (import('./main.js')) stays out of it. delete's and kill --all's modules (the lock, koffi, the
 * cgroup code) are in it but run only for those commands (dynamic imports, wrapped by esbuild).
 */
const lightEntryApart = {
  name: 'light-entry-apart',
  setup(bundle) {
    bundle.onResolve({ filter: /^\.\/(main|exec-handler)\.js$/ }, (args) => ({ path: args.path, external: true }));
  },
};

// Nothing of an earlier build stays behind (a bundle that is no longer built).
rmSync(outdir, { recursive: true, force: true });

/**
 * In the small entry, delete's code and the cgroup managers (what `kill --all` loads) are bundles
 * of their own, required only when those run: every other command (state, list, kill, exec,
 * --version) would otherwise compile them too (~70 KB).
 */
const heavyApart = {
  name: 'heavy-apart',
  setup(bundle) {
    const apart = [[/\/container\/delete\.js$/, './tsrunc-delete.cjs'], [/\/linux\/cgroups\/index\.js$/, './tsrunc-cgroups.cjs']];
    for (const [filter, file] of apart) {
      bundle.onResolve({ filter }, (args) => (args.kind === 'dynamic-import' ? { path: file, external: true } : undefined));
    }
  },
};

await Promise.all([
  // dynamic-import off: the bundles apart are then require()d, not imported through Node's ES
  // module loader (which costs ~60 ms here, mostly waiting on its asynchronous file reads).
  build({
    ...common, entryPoints: [join(dist, 'runtime', 'cli', 'light-main.js')], outfile: join(outdir, 'tsrunc.cjs'),
    plugins: [...plugins, lightEntryApart, heavyApart], supported: { 'dynamic-import': false },
  }),
  build({ ...common, entryPoints: [join(dist, 'runtime', 'container', 'delete.js')], outfile: join(outdir, 'tsrunc-delete.cjs'), plugins }),
  build({ ...common, entryPoints: [join(dist, 'runtime', 'linux', 'cgroups', 'index.js')], outfile: join(outdir, 'tsrunc-cgroups.cjs'), plugins }),
  build({ ...common, entryPoints: [join(dist, 'runtime', 'cli', 'main.js')], outfile: join(outdir, 'tsrunc-full.cjs'), plugins }),
  build({ ...common, entryPoints: [join(dist, 'runtime', 'cli', 'exec-handler.js')], outfile: join(outdir, 'tsrunc-exec.cjs'), plugins }),
  ...['config', 'state'].map((name) =>
    build({ ...common, entryPoints: [join(dist, 'runtime', 'spec', 'generated', `validate-${name}.js`)], outfile: join(outdir, `validate-${name}.cjs`) }),
  ),
]);
chmodSync(join(outdir, 'tsrunc.cjs'), 0o755);
