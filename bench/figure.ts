/** One printed line of a figure: what ours took against its reference, and the goal. */
export interface Row {
  readonly measure: string;
  readonly ours: string;
  readonly reference: string;
  /** ours / reference, when the row is a ratio. */
  readonly ratio?: number;
  readonly target: string;
  /** Whether the target was met; undefined for rows that only inform. */
  readonly met?: boolean;
}

/** What one figure measured: rows for the table, notes under it, and raw data for results.json. */
export interface FigureResult {
  readonly id: number;
  readonly title: string;
  readonly rows: readonly Row[];
  readonly notes: readonly string[];
  readonly data: Record<string, unknown>;
}

/** Seconds with three significant decimals. */
export function secs(s: number): string {
  return `${s.toFixed(3)} s`;
}

/** Bytes in MB (10^6), as tools such as docker and skopeo print them. */
export function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** Throughput of uncompressed bytes in MB/s. */
export function rate(bytes: number, seconds: number): string {
  return `${(bytes / 1e6 / seconds).toFixed(0)} MB/s`;
}

/** The spread of samples, for the notes: min..max over n. */
export function spread(xs: readonly number[]): string {
  return `${Math.min(...xs).toFixed(3)}..${Math.max(...xs).toFixed(3)} s over ${xs.length}`;
}

/** min(ours) / min(reference): less sensitive than the medians to other work on a shared machine. */
export function bestRatio(ours: readonly number[], reference: readonly number[]): number {
  return Math.min(...ours) / Math.min(...reference);
}
