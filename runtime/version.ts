export const TSRUNC_VERSION = '0.1.0';
/** The runtime-spec version tsrunc implements and writes into `spec` and state. */
export const SPEC_VERSION = '1.3.0';
/**
 * The git commit the bundle was built from (tools/bundle.mjs defines __TSRUNC_COMMIT__);
 * "unknown" for tsc's unbundled output. `--version` prints it where runc prints its commit.
 */
declare const __TSRUNC_COMMIT__: string | undefined;
export const TSRUNC_COMMIT = typeof __TSRUNC_COMMIT__ === 'string' ? __TSRUNC_COMMIT__ : 'unknown';
