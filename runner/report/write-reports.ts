import fs from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../usage-error.js';
import type { Certificate } from './certificate.js';
import { renderJson } from './json-report.js';
import { renderJunit } from './junit-report.js';
import { renderMarkdown } from './markdown-report.js';
import { renderTap } from './tap-report.js';

/** Report formats `--report FORMAT=FILE` accepts, with their renderers. */
export const reportRenderers = {
  json: renderJson,
  junit: renderJunit,
  tap: renderTap,
  markdown: renderMarkdown,
} as const;

export type ReportFormat = keyof typeof reportRenderers;

/** One requested report. */
export interface ReportRequest {
  readonly format: ReportFormat;
  readonly file: string;
}

/** Reads `--report` values, naming the flag and the bad value on a mistake. */
export function parseReportRequests(values: readonly string[]): ReportRequest[] {
  return values.map((value) => {
    const separator = value.indexOf('=');
    const format = separator < 0 ? value : value.slice(0, separator);
    const file = separator < 0 ? '' : value.slice(separator + 1);
    if (!(format in reportRenderers)) {
      throw new UsageError(
        `--report ${JSON.stringify(value)}: unknown format ${JSON.stringify(format)}; use ${Object.keys(reportRenderers).join(', ')} as FORMAT=FILE`,
      );
    }
    if (file === '') throw new UsageError(`--report ${JSON.stringify(value)}: give a file, as ${format}=FILE`);
    return { format: format as ReportFormat, file };
  });
}

/** Checks before a run that every report can be written, so a long run does not end in a lost report. */
export async function checkReportTargets(requests: readonly ReportRequest[]): Promise<void> {
  for (const request of requests) {
    const dir = path.dirname(path.resolve(request.file));
    try {
      await fs.access(dir, fs.constants.W_OK);
    } catch {
      throw new UsageError(`--report ${request.format}=${request.file}: folder ${dir} does not exist or is not writable`);
    }
  }
}

/** A renderer per report format for one kind of document. */
export type ReportRenderers<D> = Readonly<Record<ReportFormat, (document: D) => string>>;

/** Writes every requested report atomically (temp file, then rename); `renderers` default to the one-interface certificate's. */
export async function writeReports<D = Certificate>(
  document: D,
  requests: readonly ReportRequest[],
  renderers: ReportRenderers<D> = reportRenderers as unknown as ReportRenderers<D>,
): Promise<void> {
  for (const request of requests) {
    const target = path.resolve(request.file);
    const temporary = `${target}.${process.pid}.tmp`;
    await fs.writeFile(temporary, renderers[request.format](document));
    await fs.rename(temporary, target);
  }
}
