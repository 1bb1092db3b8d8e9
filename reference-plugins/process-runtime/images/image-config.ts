import type { ImageConfigSummary } from './content-store.js';
import { InvalidImageContentError } from './image-errors.js';

/** Reads the parts of an image config (OCI image-spec config.md) the runtime needs. */
export function parseImageConfig(bytes: Buffer, what: string): { diffIds: string[]; summary: ImageConfigSummary } {
  let parsed: { rootfs?: { type?: unknown; diff_ids?: unknown }; config?: Record<string, unknown> | null };
  try {
    parsed = JSON.parse(bytes.toString('utf8')) as typeof parsed;
  } catch (error) {
    throw new InvalidImageContentError(`${what}: config is not JSON (${(error as Error).message})`);
  }
  const diffIds = parsed.rootfs?.diff_ids;
  if (parsed.rootfs?.type !== 'layers' || !Array.isArray(diffIds) || !diffIds.every((d) => typeof d === 'string' && /^sha256:[a-f0-9]{64}$/.test(d))) {
    throw new InvalidImageContentError(`${what}: config rootfs is not type "layers" with sha256 diff_ids`);
  }
  const runConfig = parsed.config ?? {};
  const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : []);
  const labels: Record<string, string> = {};
  if (runConfig.Labels !== null && typeof runConfig.Labels === 'object') {
    for (const [key, value] of Object.entries(runConfig.Labels as Record<string, unknown>)) if (typeof value === 'string') labels[key] = value;
  }
  const summary: ImageConfigSummary = {
    env: strings(runConfig.Env),
    entrypoint: strings(runConfig.Entrypoint),
    cmd: strings(runConfig.Cmd),
    workingDir: typeof runConfig.WorkingDir === 'string' ? runConfig.WorkingDir : '',
    user: typeof runConfig.User === 'string' ? runConfig.User : '',
    labels,
  };
  if (typeof runConfig.StopSignal === 'string' && runConfig.StopSignal !== '') summary.stopSignal = runConfig.StopSignal;
  return { diffIds: diffIds as string[], summary };
}
