import { GrpcStatusError } from '../../specs/csi/index.js';
import { requireNonNegative } from './request-fields.js';

/** One page of a list ordered by ID. */
export interface Page<T> {
  readonly records: T[];
  /** The ID the next page starts at; '' on the last page. */
  readonly nextToken: string;
}

/**
 * Pages a list sorted by ID. The token is the ID of the first entry of the
 * next page, so paging stays stable while entries come and go (a deleted
 * entry's ID still marks a position). A token that is not an ID of the
 * listed kind is ABORTED, as ListVolumes and ListSnapshots specify.
 */
export function pageOf<T extends { readonly id: string }>(options: {
  records: readonly T[];
  maxEntries: number;
  startingToken: string;
  isToken: (token: string) => boolean;
}): Page<T> {
  requireNonNegative(options.maxEntries, 'max_entries');
  let start = 0;
  if (options.startingToken !== '') {
    if (!options.isToken(options.startingToken)) {
      throw new GrpcStatusError({ code: 'ABORTED', message: `starting_token ${JSON.stringify(options.startingToken)} was not handed out by this driver; start again without one` });
    }
    start = options.records.findIndex((record) => record.id >= options.startingToken);
    if (start < 0) start = options.records.length;
  }
  const end = options.maxEntries === 0 ? options.records.length : Math.min(options.records.length, start + options.maxEntries);
  return { records: options.records.slice(start, end), nextToken: end < options.records.length ? options.records[end]!.id : '' };
}
