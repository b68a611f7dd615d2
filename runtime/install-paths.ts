/**
 * Where tsrunc's own files are, whether it runs from tsc's output (dist/runtime/...) or from
 * a bundle (dist/bundle/*.cjs): every module of a bundle shares the bundle's import.meta.url,
 * so paths are derived from the dist directory, which is one level up in both layouts.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** dist/ of the build (or of the installed copy). */
export const distDir = path.resolve(here, '..');

/** Native code built from source by `make`: the stage (runtime/native/). */
export const nativeDir = path.join(distDir, 'native');
