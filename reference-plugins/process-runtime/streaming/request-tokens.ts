import { randomBytes } from 'node:crypto';

/** What a token stands for: the CRI request it was minted for. */
export type StreamingRequest =
  | { readonly kind: 'exec'; readonly containerId: string; readonly cmd: readonly string[]; readonly tty: boolean; readonly stdin: boolean; readonly stdout: boolean; readonly stderr: boolean }
  | { readonly kind: 'attach'; readonly containerId: string; readonly tty: boolean; readonly stdin: boolean; readonly stdout: boolean; readonly stderr: boolean }
  | { readonly kind: 'portforward'; readonly sandboxId: string; readonly netnsPath: string | undefined; readonly ports: readonly number[] };

/** Raised when too many tokens wait to be used (the kubelet's maxInFlight). */
export class TooManyTokensError extends Error {
  constructor(limit: number) {
    super(`maximum number of in-flight streaming requests (${limit}) exceeded`);
    this.name = 'TooManyTokensError';
  }
}

/**
 * Single-use tokens for streaming requests, each valid for `ttlMs` after it
 * was minted, as the kubelet's streaming request cache keeps them. Not
 * thread-bound: all methods run on the event loop and are atomic.
 * @see kubernetes/kubernetes staging/src/k8s.io/kubelet/pkg/cri/streaming/request_cache.go (v1.30)
 */
export class RequestTokens {
  readonly #ttlMs: number;
  readonly #limit: number;
  readonly #entries = new Map<string, { request: StreamingRequest; expiresAt: number }>();
  readonly #now: () => number;

  constructor(options: { ttlMs: number; limit?: number; now?: () => number }) {
    this.#ttlMs = options.ttlMs;
    this.#limit = options.limit ?? 1000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * A fresh random token (URL-safe) for `request`.
   * @throws TooManyTokensError when `limit` unexpired tokens are waiting
   */
  mint(request: StreamingRequest): string {
    this.#dropExpired();
    if (this.#entries.size >= this.#limit) throw new TooManyTokensError(this.#limit);
    const token = randomBytes(16).toString('base64url');
    this.#entries.set(token, { request, expiresAt: this.#now() + this.#ttlMs });
    return token;
  }

  /** The request of an unexpired token, which is used up; undefined for an unknown, used or expired one. */
  consume(token: string): StreamingRequest | undefined {
    const entry = this.#entries.get(token);
    if (entry === undefined) return undefined;
    this.#entries.delete(token);
    return entry.expiresAt > this.#now() ? entry.request : undefined;
  }

  /** How many tokens wait to be used. */
  get size(): number {
    this.#dropExpired();
    return this.#entries.size;
  }

  #dropExpired(): void {
    const now = this.#now();
    for (const [token, entry] of this.#entries) if (entry.expiresAt <= now) this.#entries.delete(token);
  }
}
