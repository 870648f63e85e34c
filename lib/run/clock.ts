/**
 * Time as the run format records it. Meta timestamps are integer microseconds
 * since the Unix epoch and strictly increase within one process, so two events
 * logged in the same microsecond still sort in the order they happened.
 */

let lastMicros = 0;

/** Microseconds since the epoch, strictly greater than any earlier call's. */
export function timestampMicros(): number {
  const now = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  lastMicros = now > lastMicros ? now : lastMicros + 1;
  return lastMicros;
}

/** Local time, ISO 8601 to the second with a numeric offset: 2026-11-21T10:31:02+0100. */
export function localIsoTime(date: Date = new Date()): string {
  const pad = (n: number, width = 2) => String(Math.abs(n)).padStart(width, "0");
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}` +
    `${sign}${pad(Math.floor(Math.abs(offset) / 60))}${pad(Math.abs(offset) % 60)}`;
}

/** A meta timestamp (microseconds) as a Date, for display. */
export function microsToDate(micros: number): Date {
  return new Date(Math.floor(micros / 1000));
}
