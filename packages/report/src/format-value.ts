/** Significant digits of numbers shown in report.md / report.html (the CSV and JSON keep full precision). */
export const DISPLAY_DIGITS = 4;

/** A number as reports show it: integers as they are, others to `DISPLAY_DIGITS` significant digits; blank for none. */
export function formatValue(v: number | null | undefined): string {
  if (v === undefined || v === null) return '';
  if (!Number.isFinite(v) || Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(DISPLAY_DIGITS)));
}

/** `value [ci_low, ci_high]` when both ends are there, else the value alone. */
export function formatWithCi(value: number, ciLow?: number, ciHigh?: number): string {
  const v = formatValue(value);
  return ciLow === undefined || ciHigh === undefined ? v : `${v} [${formatValue(ciLow)}, ${formatValue(ciHigh)}]`;
}
