/**
 * Mocha root hooks for the whole suite:
 * - before everything: sweep leftovers of earlier runs that were killed;
 * - after each top-level suite (one test file, by convention one top-level
 *   `describe` per file): destroy every lab still alive, so nothing of one file
 *   leaks into the next;
 * - after each failed test: print the logs of the processes of live labs;
 * - after everything: destroy and sweep again.
 */
import type { Context } from 'mocha';
import { destroyAllLabs, liveLabs } from '../src/lab/registry.js';
import { sweepDeadRuns } from '../src/lab/sweep.js';
import { configureLogging, type LogLevel } from '../src/util/log.js';

// Code under test logs through the one logger; quiet unless asked (TABBY_LOG_LEVEL=debug).
configureLogging({ level: (process.env.TABBY_LOG_LEVEL as LogLevel | undefined) ?? 'silent', format: 'json' });

export const mochaHooks = {
  async beforeAll(this: Context) {
    const swept = await sweepDeadRuns();
    if (swept.length) console.error(`[lab] swept ${swept.length} namespace(s) left by dead runs`);
    const root = this.test?.parent;
    for (const suite of root?.suites ?? []) {
      suite.afterAll('destroy labs of this file', async () => {
        await destroyAllLabs();
      });
    }
  },
  afterEach(this: Context) {
    if (this.currentTest?.state === 'failed') {
      for (const lab of liveLabs()) {
        const report = lab.logsReport(30);
        if (report) console.error(`[lab] process logs for failed test "${this.currentTest.fullTitle()}":\n${report}`);
      }
    }
  },
  async afterAll() {
    await destroyAllLabs();
    await sweepDeadRuns();
  },
};
