import type { GetCapacityRequest } from '../../specs/csi/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { callController } from './csi-calls.js';
import type { CsiSubject } from './csi-subject.js';
import {  } from './controller-expect.js';
import { describeOutcome } from './expect-status.js';
import { mountCapability } from './test-volumes.js';

type Ctx = CaseContext<CsiSubject>;

/** Declares the GetCapacity cases (CSI-CTRL-052, 053). */
export function declareGetCapacityCases(suite: Suite<CsiSubject>): void {
  suite.declare({
    ids: ['CSI-CTRL-052', 'CSI-CTRL-053'],
    title: 'GetCapacity answers with and without capabilities and parameters, with no negative size',
    needs: { capabilities: ['controller.GET_CAPACITY'] },
    async run(ctx: Ctx) {
      const requests: [string, GetCapacityRequest][] = [
        ['no optional field', { volumeCapabilities: [], parameters: {} }],
        [
          "the suite's capability and parameters",
          { volumeCapabilities: [mountCapability()], parameters: { ...ctx.subject.config.testVolumeParameters } },
        ],
      ];
      for (const [what, request] of requests) {
        const answer = await callController(ctx, 'getCapacity', request);
        ctx.check(answer.ok, { ids: ['CSI-CTRL-052'], what: `GetCapacity with ${what} succeeds`, expected: 'OK', got: describeOutcome(answer) });
        if (!answer.ok) continue;
        const { availableCapacity, maximumVolumeSize, minimumVolumeSize } = answer.response;
        const negative = Object.entries({ availableCapacity, maximumVolumeSize, minimumVolumeSize }).filter(
          ([, value]) => value !== undefined && value < 0n,
        );
        ctx.check(negative.length === 0, {
          ids: ['CSI-CTRL-053'],
          what: `GetCapacity with ${what} reports no negative size`,
          expected: 'every size >= 0',
          got: answer.response,
        });
      }
    },
  });
}
