/**
 * The envelope every resource shares: apiVersion, kind, metadata, spec.
 */
import { z } from 'zod';

export const API_VERSION = 'projectcalico.org/v3' as const;

/**
 * `status` exists on IPPool and Node in Calico; it is written by the system
 * and read by nobody in tabby, so it is accepted (calicoctl output contains
 * it) and dropped.
 */
export function envelope<K extends string, M extends z.ZodType, S extends z.ZodType>(
  kind: K,
  metadata: M,
  spec: S,
  opts: { status?: boolean } = {},
) {
  const base = {
    apiVersion: z.literal(API_VERSION),
    kind: z.literal(kind),
    metadata,
    spec,
  };
  // Without `status` in the shape, a stray status is an unknown key like any other.
  const shape = opts.status ? { ...base, status: z.unknown().optional() } : base;
  // zod cannot infer through the generic parameters; the shape above fixes the output.
  return z.strictObject(shape as typeof base).transform((v) => {
    const r = v as unknown as { metadata: z.output<M>; spec: z.output<S> };
    return { apiVersion: API_VERSION, kind, metadata: r.metadata, spec: r.spec } as { apiVersion: typeof API_VERSION; kind: K; metadata: z.output<M>; spec: z.output<S> };
  });
}
