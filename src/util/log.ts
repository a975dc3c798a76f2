/**
 * The one logger of tabby. JSON lines on stderr by default when stderr is not
 * a TTY (for journald and log shippers), readable single lines on a TTY.
 * stdout is never used: it belongs to command output and to the CNI result.
 *
 * Every log line carries an `event` field from one vocabulary (see
 * `LogEvent`), so that operators can grep and alert on stable names instead of
 * on prose.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';
import pretty from 'pino-pretty';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
export type LogFormat = 'auto' | 'json' | 'text';
export type { Logger };

export interface LogOptions {
  level?: LogLevel;
  format?: LogFormat;
  /** Where to write; defaults to stderr (fd 2). */
  destination?: NodeJS.WritableStream | number;
  /** Static fields on every line (e.g. node name). */
  base?: Record<string, unknown>;
}

function buildLogger(opts: LogOptions): Logger {
  const level: LevelWithSilent = opts.level ?? (process.env.TABBY_LOG_LEVEL as LevelWithSilent | undefined) ?? 'info';
  const dest = opts.destination ?? 2;
  const isTty = typeof dest === 'number' ? dest === 2 && process.stderr.isTTY === true : false;
  const format = opts.format ?? 'auto';
  const text = format === 'text' || (format === 'auto' && isTty);
  const base = { ...(opts.base ?? {}) };
  if (text) {
    const stream = pretty({
      destination: dest as number,
      sync: true,
      colorize: isTty,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
      singleLine: true,
    });
    return pino({ level, base }, stream);
  }
  const stream = typeof dest === 'number' ? pino.destination({ dest, sync: true }) : dest;
  return pino({ level, base, timestamp: pino.stdTimeFunctions.isoTime }, stream);
}

let root: Logger = buildLogger({ level: 'info' });
let generation = 0;

/** Reconfigure the process-wide logger (called once the config is read). */
export function configureLogging(opts: LogOptions): void {
  root = buildLogger(opts);
  generation++;
}

type Fields = Record<string, unknown>;

/**
 * A component's logger. Module-level instances are safe: each call resolves
 * the current root, so `configureLogging` after import still takes effect.
 * Every line names an `event` (dotted, e.g. `bgp.session.up`).
 */
export class ComponentLogger {
  private cached: Logger | undefined;
  private cachedGen = -1;
  constructor(
    private readonly component: string,
    private readonly fields: Fields = {},
  ) {}

  private get pino(): Logger {
    if (this.cachedGen !== generation || !this.cached) {
      this.cached = root.child({ component: this.component, ...this.fields });
      this.cachedGen = generation;
    }
    return this.cached;
  }

  child(fields: Fields): ComponentLogger {
    return new ComponentLogger(this.component, { ...this.fields, ...fields });
  }

  isLevelEnabled(level: LogLevel): boolean {
    return this.pino.isLevelEnabled(level);
  }

  trace(event: string, fields: Fields = {}, msg?: string): void {
    this.pino.trace({ ...fields, event }, msg);
  }
  debug(event: string, fields: Fields = {}, msg?: string): void {
    this.pino.debug({ ...fields, event }, msg);
  }
  info(event: string, fields: Fields = {}, msg?: string): void {
    this.pino.info({ ...fields, event }, msg);
  }
  warn(event: string, fields: Fields = {}, msg?: string): void {
    this.pino.warn({ ...fields, event }, msg);
  }
  error(event: string, fields: Fields = {}, msg?: string): void {
    this.pino.error({ ...fields, event }, msg);
  }
}

/** A logger for one component, e.g. `const log = logger('bgp')`. */
export function logger(component: string, fields: Fields = {}): ComponentLogger {
  return new ComponentLogger(component, fields);
}
