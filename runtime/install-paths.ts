/**
 * Where tsrunc's own files are, whether it runs from tsc's output (dist/runtime/...) or from
 * a bundle (dist/bundle/*.cjs): every module of a bundle shares the bundle's import.meta.url,
 * so paths are derived from the dist directory, which is one level up in both layouts.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const bundled = path.basename(here) === 'bundle';

/** dist/ of the build (or of the installed copy). */
export const distDir = path.resolve(here, '..');

/** The script the container's init runs as: a fresh Node process inside the namespaces. */
export const initScript = bundled
  ? path.join(distDir, 'bundle', 'init.cjs')
  : path.join(distDir, 'runtime', 'init', 'main.js');

/** Native code built from source by `make` (runtime/native), e.g. the user-namespace stage. */
export const nativeDir = path.join(distDir, 'native');
