import {
  checkPluginName,
  controllerCapabilityName,
  nodeCapabilityName,
  pluginCapabilityName,
  type PluginNameRule,
} from '../../specs/csi/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import type { CsiSubject } from './csi-subject.js';
import {
  controllerGetCapabilities,
  getPluginCapabilities,
  getPluginInfo,
  groupControllerGetCapabilities,
  nodeGetCapabilities,
  probe,
} from './identity-calls.js';

const idOfNameRule: Readonly<Record<PluginNameRule, string>> = {
  required: 'CSI-IDENT-002',
  length: 'CSI-IDENT-003',
  characters: 'CSI-IDENT-004',
  labels: 'CSI-IDENT-005',
};

type Ctx = CaseContext<CsiSubject>;

const stringLimitBytes = 128;
const mapLimitBytes = 4096;

/** How many times a capability set is read to see that it holds still. */
const capabilityReads = 3;

/** Declares the Identity service cases (specs/csi/SPEC.md, CSI-IDENT). */
export function declareIdentityCases(suite: Suite<CsiSubject>): void {
  suite.declare({
    ids: ['CSI-IDENT-001', 'CSI-IDENT-002', 'CSI-IDENT-003', 'CSI-IDENT-004', 'CSI-IDENT-005'],
    title: 'GetPluginInfo answers on every endpoint with a plugin name CSI allows',
    async run(ctx: Ctx) {
      for (const endpoint of ctx.subject.endpoints) {
        const info = await getPluginInfo(ctx, endpoint);
        ctx.require(info.ok, {
          ids: ['CSI-IDENT-001'],
          what: `GetPluginInfo succeeds at the ${endpoint.role} endpoint`,
          expected: 'OK',
          got: info.ok ? 'OK' : info.error.code,
        });
        const { name } = info.response;
        const problems = checkPluginName(name);
        const rules: PluginNameRule[] = name === '' ? ['required'] : ['required', 'length', 'characters', 'labels'];
        for (const rule of rules) {
          const problem = problems.find((candidate) => candidate.rule === rule);
          ctx.check(problem === undefined, {
            ids: [idOfNameRule[rule]],
            what: `plugin name at the ${endpoint.role} endpoint: ${problem?.message ?? `passes the "${rule}" rule`}`,
            expected: describeRule(rule),
            got: name,
          });
        }
      }
    },
  });

  suite.declare({
    ids: ['CSI-IDENT-006'],
    title: 'The plugin name carries both a vendor and a plugin name',
    async run(ctx: Ctx) {
      const info = await getPluginInfo(ctx, ctx.subject.nodeEndpoint);
      ctx.require(info.ok, { ids: ['CSI-IDENT-001'], what: 'GetPluginInfo succeeds', expected: 'OK', got: statusOf(info) });
      const labels = info.response.name.split('.').filter((label) => label !== '');
      ctx.check(labels.length >= 2, {
        what: 'the name is a domain name of two labels or more (plugin and vendor)',
        expected: 'e.g. dir-volume.kubeplug.io',
        got: info.response.name,
      });
    },
  });

  suite.declare({
    ids: ['CSI-IDENT-007'],
    title: 'GetPluginInfo reports a vendor version on every endpoint',
    async run(ctx: Ctx) {
      for (const endpoint of ctx.subject.endpoints) {
        const info = await getPluginInfo(ctx, endpoint);
        ctx.require(info.ok, { ids: ['CSI-IDENT-001'], what: 'GetPluginInfo succeeds', expected: 'OK', got: statusOf(info) });
        ctx.check(info.response.vendorVersion !== '', {
          what: `vendor_version at the ${endpoint.role} endpoint is not empty`,
          expected: 'a non-empty string',
          got: info.response.vendorVersion,
        });
      }
    },
  });

  suite.declare({
    ids: ['CSI-IDENT-008'],
    title: 'GetPluginInfo keeps vendor_version and manifest within the size limits',
    async run(ctx: Ctx) {
      for (const endpoint of ctx.subject.endpoints) {
        const info = await getPluginInfo(ctx, endpoint);
        ctx.require(info.ok, { ids: ['CSI-IDENT-001'], what: 'GetPluginInfo succeeds', expected: 'OK', got: statusOf(info) });
        const { vendorVersion, manifest } = info.response;
        ctx.check(byteLength(vendorVersion) <= stringLimitBytes, {
          what: `vendor_version at the ${endpoint.role} endpoint is at most ${stringLimitBytes} bytes`,
          expected: `<= ${stringLimitBytes} bytes`,
          got: `${byteLength(vendorVersion)} bytes`,
        });
        const oversized = Object.entries(manifest).filter(
          ([key, value]) => byteLength(key) > stringLimitBytes || byteLength(value) > stringLimitBytes,
        );
        ctx.check(oversized.length === 0, {
          what: `every manifest key and value at the ${endpoint.role} endpoint is at most ${stringLimitBytes} bytes`,
          expected: `<= ${stringLimitBytes} bytes each`,
          got: oversized.map(([key, value]) => `${key}: ${byteLength(key)}+${byteLength(value)} bytes`),
        });
        const total = Object.entries(manifest).reduce((sum, [key, value]) => sum + byteLength(key) + byteLength(value), 0);
        ctx.check(total <= mapLimitBytes, {
          what: `the manifest at the ${endpoint.role} endpoint is at most 4 KiB`,
          expected: `<= ${mapLimitBytes} bytes`,
          got: `${total} bytes`,
        });
      }
    },
  });

  suite.declare({
    ids: ['CSI-IDENT-009', 'CSI-IDENT-010'],
    title: 'GetPluginCapabilities answers on every endpoint with only defined capabilities',
    async run(ctx: Ctx) {
      for (const endpoint of ctx.subject.endpoints) {
        const answer = await getPluginCapabilities(ctx, endpoint);
        ctx.require(answer.ok, {
          ids: ['CSI-IDENT-009'],
          what: `GetPluginCapabilities succeeds at the ${endpoint.role} endpoint`,
          expected: 'OK',
          got: statusOf(answer),
        });
        const names = answer.response.capabilities.map(pluginCapabilityName);
        const undefinedOnes = names.filter((name) => /UNSET|UNDEFINED|UNKNOWN/.test(name));
        ctx.check(undefinedOnes.length === 0, {
          ids: ['CSI-IDENT-010'],
          what: `every capability at the ${endpoint.role} endpoint is a defined service or volume expansion type`,
          expected: 'service CONTROLLER_SERVICE | VOLUME_ACCESSIBILITY_CONSTRAINTS | GROUP_CONTROLLER_SERVICE | SNAPSHOT_METADATA_SERVICE, or volume_expansion ONLINE | OFFLINE',
          got: names,
        });
      }
    },
  });

  suite.declare({
    ids: ['CSI-IDENT-011'],
    title: 'Repeated calls and every endpoint of one plugin version report the same capabilities',
    async run(ctx: Ctx) {
      const seen: { role: string; vendorVersion: string; capabilities: string }[] = [];
      for (const endpoint of ctx.subject.endpoints) {
        const info = await getPluginInfo(ctx, endpoint);
        ctx.require(info.ok, { ids: ['CSI-IDENT-001'], what: 'GetPluginInfo succeeds', expected: 'OK', got: statusOf(info) });
        const reads: string[] = [];
        for (let read = 0; read < capabilityReads; read += 1) {
          const answer = await getPluginCapabilities(ctx, endpoint);
          ctx.require(answer.ok, {
            ids: ['CSI-IDENT-009'],
            what: 'GetPluginCapabilities succeeds',
            expected: 'OK',
            got: statusOf(answer),
          });
          reads.push(answer.response.capabilities.map(pluginCapabilityName).sort().join(', '));
        }
        ctx.check(new Set(reads).size === 1, {
          what: `${capabilityReads} reads at the ${endpoint.role} endpoint report the same capabilities`,
          expected: reads[0],
          got: reads,
        });
        seen.push({ role: endpoint.role, vendorVersion: info.response.vendorVersion, capabilities: reads[0] ?? '' });
      }
      const [first, ...others] = seen;
      for (const other of others) {
        if (first === undefined || other.vendorVersion !== first.vendorVersion) {
          ctx.note(`the ${other.role} endpoint reports another vendor_version; its capabilities may differ`);
          continue;
        }
        ctx.check(other.capabilities === first.capabilities, {
          what: `the ${first.role} and ${other.role} endpoints of version ${first.vendorVersion} report the same capabilities`,
          expected: first.capabilities,
          got: other.capabilities,
        });
      }
    },
  });

  suite.declare({
    ids: ['CSI-IDENT-012'],
    title: 'A plugin advertising CONTROLLER_SERVICE answers ControllerGetCapabilities',
    needs: { capabilities: ['plugin.service.CONTROLLER_SERVICE'] },
    async run(ctx: Ctx) {
      const answer = await controllerGetCapabilities(ctx, ctx.subject.controllerEndpoint);
      ctx.check(answer.ok, {
        what: 'ControllerGetCapabilities succeeds at the controller endpoint',
        expected: 'OK',
        got: statusOf(answer),
      });
    },
  });

  suite.declare({
    ids: ['CSI-IDENT-013'],
    title: 'A plugin advertising GROUP_CONTROLLER_SERVICE answers GroupControllerGetCapabilities',
    needs: { capabilities: ['plugin.service.GROUP_CONTROLLER_SERVICE'] },
    async run(ctx: Ctx) {
      const answer = await groupControllerGetCapabilities(ctx, ctx.subject.controllerEndpoint);
      ctx.check(answer.ok, {
        what: 'GroupControllerGetCapabilities succeeds at the controller endpoint',
        expected: 'OK',
        got: statusOf(answer),
      });
    },
  });

  suite.declare({
    ids: ['CSI-IDENT-014'],
    title: 'A plugin advertising ONLINE volume expansion offers EXPAND_VOLUME on the controller or the node',
    needs: { capabilities: ['plugin.volume-expansion.ONLINE'] },
    async run(ctx: Ctx) {
      const offered = await expandVolumeOffers(ctx);
      ctx.check(offered.controller || offered.node, {
        what: 'EXPAND_VOLUME is among the controller or node capabilities',
        expected: 'controller.EXPAND_VOLUME or node.EXPAND_VOLUME',
        got: offered.names,
      });
    },
  });

  suite.declare({
    ids: ['CSI-IDENT-015'],
    title: "A plugin advertising OFFLINE volume expansion offers the controller's EXPAND_VOLUME",
    needs: { capabilities: ['plugin.volume-expansion.OFFLINE'] },
    async run(ctx: Ctx) {
      const offered = await expandVolumeOffers(ctx);
      ctx.check(offered.controller, {
        what: 'EXPAND_VOLUME is among the controller capabilities',
        expected: 'controller.EXPAND_VOLUME',
        got: offered.names,
      });
    },
  });

  suite.declare({
    ids: ['CSI-IDENT-016'],
    title: 'Probe is implemented on every endpoint',
    async run(ctx: Ctx) {
      for (const endpoint of ctx.subject.endpoints) {
        const answer = await probe(ctx, endpoint);
        ctx.check(answer.ok || answer.error.code !== 'UNIMPLEMENTED', {
          what: `Probe at the ${endpoint.role} endpoint is not UNIMPLEMENTED`,
          expected: 'any answer but UNIMPLEMENTED',
          got: statusOf(answer),
        });
      }
    },
  });

  suite.declare({
    ids: ['CSI-IDENT-017'],
    title: 'Probe succeeds, or fails with FAILED_PRECONDITION',
    async run(ctx: Ctx) {
      for (const endpoint of ctx.subject.endpoints) {
        const answer = await probe(ctx, endpoint);
        if (!answer.ok && answer.error.code === 'UNIMPLEMENTED') {
          ctx.note(`Probe is not implemented at the ${endpoint.role} endpoint (judged by CSI-IDENT-016)`);
          continue;
        }
        ctx.check(answer.ok || answer.error.code === 'FAILED_PRECONDITION', {
          what: `Probe at the ${endpoint.role} endpoint answers OK or FAILED_PRECONDITION`,
          expected: 'OK | FAILED_PRECONDITION',
          got: statusOf(answer),
        });
        if (answer.ok && answer.response.ready === false) {
          ctx.note(`the ${endpoint.role} endpoint reports ready=false: still initialising`);
        }
      }
    },
  });
}

async function expandVolumeOffers(
  ctx: CaseContext<CsiSubject>,
): Promise<{ controller: boolean; node: boolean; names: string[] }> {
  let controllerNames: string[] = [];
  if (ctx.subject.capabilities.has('plugin.service.CONTROLLER_SERVICE')) {
    const answer = await controllerGetCapabilities(ctx, ctx.subject.controllerEndpoint);
    if (answer.ok) controllerNames = answer.response.capabilities.map(controllerCapabilityName);
  }
  const nodeAnswer = await nodeGetCapabilities(ctx, ctx.subject.nodeEndpoint);
  const nodeNames = nodeAnswer.ok ? nodeAnswer.response.capabilities.map(nodeCapabilityName) : [];
  return {
    controller: controllerNames.includes('controller.EXPAND_VOLUME'),
    node: nodeNames.includes('node.EXPAND_VOLUME'),
    names: [...controllerNames, ...nodeNames],
  };
}

function statusOf(outcome: { ok: true } | { ok: false; error: { code: string } }): string {
  return outcome.ok ? 'OK' : outcome.error.code;
}

function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

function describeRule(rule: PluginNameRule): string {
  switch (rule) {
    case 'required':
      return 'a non-empty name';
    case 'length':
      return 'at most 63 characters';
    case 'characters':
      return '[A-Za-z0-9] at both ends, [A-Za-z0-9.-] between';
    case 'labels':
      return 'dot-separated labels, none empty or beginning or ending with "-"';
  }
}
