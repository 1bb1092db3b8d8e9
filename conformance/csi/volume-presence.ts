import type { ListVolumesResponse_Entry } from '../../specs/csi/index.js';
import type { CaseContext } from '../framework/index.js';
import { callController } from './csi-calls.js';
import type { CsiSubject } from './csi-subject.js';
import { advertises, unknownVolumeId } from './controller-expect.js';
import { describeOutcome } from './expect-status.js';
import { mountCapability } from './test-volumes.js';

type Ctx = CaseContext<CsiSubject>;

/** More pages than this means the plugin's tokens go round in circles. */
const maxPages = 1000;

/**
 * Every entry, page by page, following next_token; a failed page stops the
 * case citing the ids given.
 */
export async function listAllVolumes(ctx: Ctx, ids: readonly string[], maxEntries = 0): Promise<ListVolumesResponse_Entry[]> {
  const entries: ListVolumesResponse_Entry[] = [];
  let startingToken = '';
  for (let page = 0; page < maxPages; page += 1) {
    const listed = await callController(ctx, 'listVolumes', { maxEntries, startingToken });
    ctx.require(listed.ok, { ids, what: `ListVolumes page ${page + 1} succeeds`, expected: 'OK', got: describeOutcome(listed) });
    if (maxEntries > 0) {
      ctx.check(listed.response.entries.length <= maxEntries, {
        ids: ['CSI-CTRL-048'],
        what: `page ${page + 1} holds at most max_entries ${maxEntries} entries`,
        expected: `<= ${maxEntries}`,
        got: listed.response.entries.length,
      });
    }
    entries.push(...listed.response.entries);
    if (listed.response.nextToken === '') return entries;
    startingToken = listed.response.nextToken;
  }
  ctx.require(false, { ids, what: `ListVolumes ends within ${maxPages} pages`, expected: 'an empty next_token', got: 'tokens kept coming' });
}

/**
 * Whether the plugin still knows a volume, asked the most direct way it
 * offers: ListVolumes, else ControllerGetVolume, else ValidateVolumeCapabilities.
 * The last is trusted only if it refuses a volume that never existed;
 * `undefined` means the plugin offers no way to tell.
 */
export async function volumeExists(ctx: Ctx, volumeId: string, ids: readonly string[]): Promise<boolean | undefined> {
  if (advertises(ctx, 'controller.LIST_VOLUMES')) {
    return (await listAllVolumes(ctx, ids)).some((entry) => entry.volume?.volumeId === volumeId);
  }
  if (advertises(ctx, 'controller.GET_VOLUME')) {
    const got = await callController(ctx, 'controllerGetVolume', { volumeId });
    if (got.ok || got.error.code === 'NOT_FOUND') return got.ok;
  }
  const validate = (id: string) =>
    callController(ctx, 'validateVolumeCapabilities', {
      volumeId: id,
      volumeContext: {},
      volumeCapabilities: [mountCapability()],
      parameters: {},
      secrets: {},
      mutableParameters: {},
    });
  const validated = await validate(volumeId);
  if (!validated.ok && validated.error.code === 'NOT_FOUND') return false;
  const control = await validate(unknownVolumeId(ctx));
  if (!control.ok && control.error.code === 'NOT_FOUND') return validated.ok;
  ctx.note(`ValidateVolumeCapabilities cannot tell whether ${volumeId} exists: ${describeOutcome(validated)}, and ${describeOutcome(control)} for a volume that never did`);
  return undefined;
}
