/**
 * Desired state vs what is believed to be in the dataplane, per key (the
 * Venn diagram of Felix's deltatracker):
 *
 *   desired only            -> pending update (to create)
 *   both, not in sync       -> pending update (to change)
 *   both, in sync           -> nothing to do
 *   dataplane only          -> pending deletion
 *
 * The pending sets are kept up to date on every change (O(1) per key), so a
 * driver's apply() walks only what is pending, never the whole state. The
 * "dataplane" side is a belief: a driver replaces it wholesale from a
 * read-back on resync (`replaceDataplane`), which is how drift is found.
 *
 * `inSync(desired, actual)` may be asymmetric (a desired route without a
 * device matches the device the kernel resolved).
 */
export class DeltaTracker<K, D, A = D> {
  private readonly desiredMap = new Map<K, D>();
  private readonly dataplaneMap = new Map<K, A>();
  private readonly updates = new Set<K>();
  private readonly deletions = new Set<K>();

  constructor(private readonly inSync: (desired: D, actual: A) => boolean) {}

  get desired(): ReadonlyMap<K, D> {
    return this.desiredMap;
  }

  get dataplane(): ReadonlyMap<K, A> {
    return this.dataplaneMap;
  }

  /** Keys whose desired value is missing from, or differs in, the dataplane. */
  get pendingUpdates(): ReadonlySet<K> {
    return this.updates;
  }

  /** Keys in the dataplane that are not desired. */
  get pendingDeletions(): ReadonlySet<K> {
    return this.deletions;
  }

  get inSyncCount(): number {
    return this.desiredMap.size - this.updates.size;
  }

  setDesired(key: K, value: D): void {
    this.desiredMap.set(key, value);
    this.reindex(key);
  }

  deleteDesired(key: K): void {
    if (this.desiredMap.delete(key)) this.reindex(key);
  }

  setDataplane(key: K, value: A): void {
    this.dataplaneMap.set(key, value);
    this.reindex(key);
  }

  deleteDataplane(key: K): void {
    if (this.dataplaneMap.delete(key)) this.reindex(key);
  }

  /** Replace the whole dataplane view (a resync read-back). */
  replaceDataplane(entries: Iterable<[K, A]>): void {
    const old = [...this.dataplaneMap.keys()];
    this.dataplaneMap.clear();
    for (const [k, v] of entries) this.dataplaneMap.set(k, v);
    for (const k of old) this.reindex(k);
    for (const k of this.dataplaneMap.keys()) this.reindex(k);
  }

  private reindex(key: K): void {
    const d = this.desiredMap.get(key);
    const hasD = this.desiredMap.has(key);
    const hasA = this.dataplaneMap.has(key);
    if (hasD && (!hasA || !this.inSync(d as D, this.dataplaneMap.get(key) as A))) this.updates.add(key);
    else this.updates.delete(key);
    if (hasA && !hasD) this.deletions.add(key);
    else this.deletions.delete(key);
  }
}
