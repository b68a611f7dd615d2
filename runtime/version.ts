export const TSRUNC_VERSION = '0.1.0';
/** The runtime-spec version tsrunc implements and writes into `spec` and state. */
export const SPEC_VERSION = '1.3.0';
