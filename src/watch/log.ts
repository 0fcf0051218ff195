/**
 * Structured logs of the watcher: one JSON object per line on stderr, `time`, `level` and `msg` first, then the
 * event's fields (which cannot override those three).
 */

export type Level = 'debug' | 'info' | 'warn' | 'error';

export type Logger = (level: Level, msg: string, fields?: Readonly<Record<string, unknown>>) => void;

const RESERVED = new Set(['time', 'level', 'msg']);

/** One log line (with its newline) for an entry at `now`. */
export function logLine(level: Level, msg: string, fields: Readonly<Record<string, unknown>>, now: Date): string {
  const rest = Object.fromEntries(Object.entries(fields).filter(([k]) => !RESERVED.has(k)));
  // JSON.stringify escapes control characters, so hostile text in a field cannot break the one-line format.
  return `${JSON.stringify({ time: now.toISOString(), level, msg, ...rest })}\n`;
}

export function jsonLogger(
  write: (line: string) => void = (l) => process.stderr.write(l),
  now: () => Date = () => new Date(),
): Logger {
  return (level, msg, fields = {}) => write(logLine(level, msg, fields, now()));
}

/** The `{level, event, message, ...}` entries alerts.ts logs, as Logger calls. */
export function entryLogger(log: Logger): (entry: Record<string, unknown>) => void {
  return ({ level, event, message, ...rest }) => {
    const lv: Level = level === 'error' || level === 'warn' || level === 'debug' ? level : 'info';
    log(lv, typeof message === 'string' ? message : String(event ?? 'alert'), { event, ...rest });
  };
}
