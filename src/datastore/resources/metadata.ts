/**
 * `metadata` of a resource: Kubernetes ObjectMeta as Calico's v3 API uses it.
 *
 * What happens to each ObjectMeta field:
 * - kept: `name`, `namespace` (namespaced kinds only; default "default"),
 *   `labels`, `annotations`, `resourceVersion` (a string: the apply layer
 *   may use it as an expected revision, as `calicoctl replace` does);
 * - accepted and dropped: `uid`, `creationTimestamp`, `generation`,
 *   `selfLink`, `managedFields`, `deletionTimestamp`,
 *   `deletionGracePeriodSeconds`. The system writes these, they never carry
 *   a user's intent, and `calicoctl get -o yaml` output contains them: so such
 *   output applies unchanged;
 * - rejected as not implemented: `generateName`, `ownerReferences`,
 *   `finalizers` (see unimplemented.ts);
 * - anything else is an unknown key.
 * A cluster-scoped kind with a `namespace` is an error, not ignored.
 */
import { z } from 'zod';
import { annotationMap, labelMap, labelName, report } from './fields.js';
import { unimplemented } from './unimplemented.js';

export interface Metadata {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  resourceVersion?: string;
}

export const DEFAULT_NAMESPACE = 'default';

/** Output-only ObjectMeta fields: accepted and dropped. */
export const IGNORED_METADATA_FIELDS = [
  'uid',
  'creationTimestamp',
  'generation',
  'selfLink',
  'managedFields',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
] as const;

const ignoredShape = Object.fromEntries(IGNORED_METADATA_FIELDS.map((k) => [k, z.unknown().optional()])) as Record<
  (typeof IGNORED_METADATA_FIELDS)[number],
  z.ZodOptional<z.ZodUnknown>
>;

export function metadataSchema<N extends z.ZodType<string>>(opts: { kind: string; namespaced: boolean; name: N; nameOptional?: boolean }) {
  const namespace = opts.namespaced
    ? labelName().default(DEFAULT_NAMESPACE)
    : z
        .unknown()
        .optional()
        .superRefine((v, ctx) => {
          if (v !== undefined) report(ctx, `must not be set: ${opts.kind} is cluster-scoped, not namespaced`);
        });
  return z
    .strictObject({
      name: opts.nameOptional ? opts.name.optional() : opts.name,
      namespace,
      labels: labelMap().optional(),
      annotations: annotationMap().optional(),
      resourceVersion: z.union([z.string(), z.number()]).optional(),
      generateName: unimplemented('generateName'),
      ownerReferences: unimplemented('ownerReferences'),
      finalizers: unimplemented('finalizers'),
      ...ignoredShape,
    })
    .transform((raw) => {
      const m = raw as unknown as { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; resourceVersion?: string | number };
      const out: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; resourceVersion?: string } = {
        name: m.name ?? '',
      };
      if (opts.namespaced) out.namespace = m.namespace ?? DEFAULT_NAMESPACE;
      if (m.labels !== undefined) out.labels = m.labels;
      if (m.annotations !== undefined) out.annotations = m.annotations;
      if (m.resourceVersion !== undefined) out.resourceVersion = String(m.resourceVersion);
      return out;
    });
}
