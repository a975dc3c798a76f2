/** Labs alive in this process, so test hooks can clean up after a file that forgot to. */
interface Destroyable {
  destroy(): Promise<void>;
  logsReport(maxLines?: number): string;
}

const live = new Set<Destroyable>();

export function registerLab(lab: Destroyable): void {
  live.add(lab);
}

export function unregisterLab(lab: Destroyable): void {
  live.delete(lab);
}

export function liveLabs(): Destroyable[] {
  return [...live];
}

export async function destroyAllLabs(): Promise<void> {
  await Promise.allSettled([...live].map((l) => l.destroy()));
}
