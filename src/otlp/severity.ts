// Owns OTLP's log severity ranges: the six names and the numbers each range starts at.

/** OTLP's severity ranges: 1-4 TRACE, 5-8 DEBUG, 9-12 INFO, 13-16 WARN, 17-20 ERROR, 21-24 FATAL. */
export const SEVERITY_NAMES = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'] as const;
export type SeverityName = (typeof SEVERITY_NAMES)[number];

/** The first severity number of a named range (TRACE 1, DEBUG 5, INFO 9, WARN 13, ERROR 17, FATAL 21). */
export function severityNumber(name: SeverityName): number {
  return SEVERITY_NAMES.indexOf(name) * 4 + 1;
}
