import type { FromSchema } from 'json-schema-to-ts';
import type { OciConfig } from './config.js';
import type { stateSchema } from './generated/state-schema.js';

/**
 * json-schema-to-ts resolves the cross-file `config` $ref against the state schema's own
 * definitions, which gives `never`. So the state type is derived with `config` left open and
 * then given the config type, which comes from the config schema itself.
 */
type StateSchemaWithoutConfig = Omit<typeof stateSchema, 'properties'> & {
  readonly properties: Omit<(typeof stateSchema)['properties'], 'config'> & { readonly config: { readonly type: 'object' } };
};
type StateFromSchema = FromSchema<StateSchemaWithoutConfig>;

/** What tsrunc keeps in <root>/<id>/state.json, as accepted by validateState. */
export type TsruncState = {
  [K in keyof StateFromSchema as string extends K ? never : K]: K extends 'config' ? OciConfig : StateFromSchema[K];
};

/** The state the OCI runtime spec defines: the subset `tsrunc state` reports. */
export type OciState = Pick<TsruncState, 'ociVersion' | 'id' | 'status' | 'pid' | 'bundle' | 'annotations'>;

export type ContainerStatus = TsruncState['status'];
