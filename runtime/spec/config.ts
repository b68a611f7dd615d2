import type { FromSchema } from 'json-schema-to-ts';
import type { configSchema } from './generated/config-schema.js';

/**
 * json-schema-to-ts gives every open object (no additionalProperties) an `[x: string]: unknown`
 * index signature. The schema must stay open so unknown fields pass validation, but in code that
 * signature would let a misspelt field read as `unknown` instead of failing to compile. So the
 * index signature is dropped wherever an object also has named properties; pure maps (annotations,
 * sysctl, ...) keep theirs.
 */
type Closed<T> = T extends readonly (infer U)[]
  ? Closed<U>[]
  : T extends object
    ? [NamedKeys<T>] extends [never]
      ? { [K in keyof T]: Closed<T[K]> }
      : { [K in keyof T as string extends K ? never : K]: Closed<T[K]> }
    : T;
type NamedKeys<T> = keyof { [K in keyof T as string extends K ? never : K]: true };

/** A config.json accepted by validateConfig; every field's type comes from spec-schemas/config.schema.json. */
export type OciConfig = Closed<FromSchema<typeof configSchema>>;

export type OciProcess = NonNullable<OciConfig['process']>;
export type OciUser = NonNullable<OciProcess['user']>;
export type OciRlimit = NonNullable<OciProcess['rlimits']>[number];
export type OciMount = NonNullable<OciConfig['mounts']>[number];
export type OciHooks = NonNullable<OciConfig['hooks']>;
export type OciHook = NonNullable<OciHooks['prestart']>[number];
export type OciLinux = NonNullable<OciConfig['linux']>;
export type OciNamespace = NonNullable<OciLinux['namespaces']>[number];
export type OciIdMapping = NonNullable<OciLinux['uidMappings']>[number];
export type OciDevice = NonNullable<OciLinux['devices']>[number];
export type OciResources = NonNullable<OciLinux['resources']>;
export type OciSeccomp = NonNullable<OciLinux['seccomp']>;
