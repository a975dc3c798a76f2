/**
 * The one place where resource validation checks selector syntax. It calls
 * the policy engine's own parser (src/policy/selector), so a selector that
 * validates here is exactly one the policy compiler can evaluate.
 */
import { parseSelectorAst } from '../../policy/selector/index.js';

/** Calico's limit on every selector field (CRD maxLength). */
export const MAX_SELECTOR_LENGTH = 1024;

/** Undefined when `text` is a valid Calico selector, else why not (one line). */
export function checkSelectorSyntax(text: string): string | undefined {
  if (text.length > MAX_SELECTOR_LENGTH) return `selector is longer than ${MAX_SELECTOR_LENGTH} characters`;
  try {
    parseSelectorAst(text);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** True when the selector is exactly `global()` (Calico allows it alone only). */
export function isGlobalOnly(text: string): boolean {
  return /^\s*global\(\s*\)\s*$/.test(text);
}
