/** A logger for tests: keeps every line it is given (level, event, fields, message). */
export class CapturingLog {
  lines: { level: string; event: string; fields: Record<string, unknown>; msg?: string }[] = [];
  debug(event: string, fields: Record<string, unknown> = {}, msg?: string) {
    this.lines.push({ level: 'debug', event, fields, ...(msg !== undefined ? { msg } : {}) });
  }
  info(event: string, fields: Record<string, unknown> = {}, msg?: string) {
    this.lines.push({ level: 'info', event, fields, ...(msg !== undefined ? { msg } : {}) });
  }
  warn(event: string, fields: Record<string, unknown> = {}, msg?: string) {
    this.lines.push({ level: 'warn', event, fields, ...(msg !== undefined ? { msg } : {}) });
  }
  error(event: string, fields: Record<string, unknown> = {}, msg?: string) {
    this.lines.push({ level: 'error', event, fields, ...(msg !== undefined ? { msg } : {}) });
  }
  events(): string[] {
    return this.lines.map((l) => l.event);
  }
}
