/**
 * Times in the API's form: RFC 3339 in UTC to the second, as metav1.Time
 * marshals them (kubernetes/apimachinery pkg/apis/meta/v1/time.go).
 */

/** A Date as the API writes it ("2026-01-02T03:04:05Z"). */
export function apiTime(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

/** Milliseconds since the epoch as the API writes them; undefined for 0 (unset in CRI). */
export function apiTimeFromMs(ms: number): string | undefined {
  return ms > 0 ? apiTime(new Date(ms)) : undefined;
}
