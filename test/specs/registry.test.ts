import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { coverageOf } from '../../conformance/framework/coverage.js';
import { createCsiSuite } from '../../conformance/csi/index.js';
import { createCniSuite } from '../../conformance/cni/index.js';
import { createCriSuite } from '../../conformance/cri/index.js';
import { createKubeletSuite } from '../../conformance/kubelet/index.js';
import {
  interfaceNames,
  loadRegistry,
  packageRoot,
  parseSpec,
  requirementIdPattern,
  RequirementRegistry,
  SpecFormatError,
} from '../../specs/registry/index.js';

const registry = loadRegistry();
const suites = {
  csi: createCsiSuite().cases,
  cri: createCriSuite().cases,
  cni: createCniSuite().cases,
  kubelet: createKubeletSuite().cases,
} as const;

t.test('every requirement ID is well formed and belongs to its interface', async (t) => {
  const all = registry.list();
  t.ok(all.length > 0, 'the specs state requirements');
  for (const requirement of all) {
    t.match(requirement.id, requirementIdPattern, `${requirement.id} is well formed`);
    t.not(requirement.source, '', `${requirement.id} cites its upstream source`);
  }
});

t.test('the CSI Identity section states its rules with levels and sources', async (t) => {
  const identity = registry.list('csi').filter((requirement) => requirement.id.startsWith('CSI-IDENT-'));
  t.equal(identity.length, 18);
  t.same([...new Set(identity.map((r) => r.level))].sort(), ['MUST', 'SHOULD']);
  t.ok(identity.every((r) => r.source.startsWith('container-storage-interface/spec v1.12.0')));
});

t.test('every case cites requirement IDs that exist', async (t) => {
  for (const iface of interfaceNames) {
    for (const testCase of suites[iface]) {
      for (const id of testCase.ids) t.ok(registry.has(id), `${iface} case "${testCase.title}" cites ${id}`);
    }
  }
});

t.test('every MUST a subject is certified on is covered by a case or listed as not checked with a reason', async (t) => {
  for (const iface of interfaceNames) {
    const judged = registry.list(iface).filter((requirement) => requirement.binds !== 'runtime');
    const uncovered = coverageOf(judged, suites[iface]).filter(
      (entry) => entry.requirement.level === 'MUST' && entry.kind === 'uncovered',
    );
    t.same(
      uncovered.map((entry) => entry.requirement.id),
      [],
      `${iface}: no MUST without a case or a reason`,
    );
  }
});

const wellFormed = `## Area (CSI-X)

### CSI-X-001 (MUST) A rule

The rule text.

- Source: somewhere v1, file, section
`;

const badSpecs: [string, string, RegExp][] = [
  ['a heading without a level', '### CSI-X-001 A rule\n\ntext\n\n- Source: s\n', /must read "### ID \(LEVEL\) Title"/],
  ['an unknown level', '### CSI-X-001 (OUGHT) A rule\n\ntext\n\n- Source: s\n', /level "OUGHT" is not one of/],
  ['a malformed ID', '### CSI-X-1 (MUST) A rule\n\ntext\n\n- Source: s\n', /malformed requirement ID/],
  ['an ID of another interface', '### CRI-X-001 (MUST) A rule\n\ntext\n\n- Source: s\n', /does not belong in the csi spec/],
  ['no source line', '### CSI-X-001 (MUST) A rule\n\ntext\n', /"- Source:" line is missing/],
  ['no rule text', '### CSI-X-001 (MUST) A rule\n\n- Source: s\n', /rule text is missing/],
];

t.test('the parser reads a well-formed requirement', async (t) => {
  const [requirement] = parseSpec('csi', 'SPEC.md', wellFormed);
  t.match(requirement, { id: 'CSI-X-001', level: 'MUST', title: 'A rule', rule: 'The rule text.', section: 'Area (CSI-X)' });
  t.equal(requirement?.source, 'somewhere v1, file, section');
  t.equal(requirement?.location.line, 3);
});

t.test('the parser reads who a rule binds, plugin by default', async (t) => {
  t.equal(parseSpec('csi', 'SPEC.md', wellFormed)[0]?.binds, 'plugin');
  t.equal(parseSpec('csi', 'SPEC.md', `${wellFormed}- Binds: runtime\n`)[0]?.binds, 'runtime');
  t.throws(() => parseSpec('csi', 'SPEC.md', `${wellFormed}- Binds: kernel\n`), /must name one of plugin, runtime, network/);
});

t.test('the parser reads a not-checked reason', async (t) => {
  const [requirement] = parseSpec('csi', 'SPEC.md', `${wellFormed}- Not checked: cannot be seen from outside\n`);
  t.equal(requirement?.notChecked, 'cannot be seen from outside');
});

t.test('the parser ignores headings inside code fences', async (t) => {
  t.same(parseSpec('csi', 'SPEC.md', '```\n### CSI-X-001 broken\n```\n'), []);
});

for (const [what, text, message] of badSpecs) {
  t.test(`the parser refuses ${what}, naming file and line`, async (t) => {
    t.throws(() => parseSpec('csi', 'specs/csi/SPEC.md', text), { name: 'SpecFormatError', message });
    t.throws(() => parseSpec('csi', 'specs/csi/SPEC.md', text), /^specs\/csi\/SPEC\.md:1: /);
  });
}

t.test('the registry refuses an ID declared twice', async (t) => {
  const requirements = parseSpec('csi', 'a.md', wellFormed);
  t.throws(() => new RequirementRegistry([...requirements, ...requirements]), SpecFormatError);
  t.throws(() => new RequirementRegistry([...requirements, ...requirements]), /CSI-X-001 is declared twice/);
});

t.test("every MUST binding runtimes is checked by a named test of kubeplug's own invoker or harness", async (t) => {
  const testFiles: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.test.ts')) testFiles.push(fs.readFileSync(full, 'utf8'));
    }
  };
  walk(path.join(packageRoot(), 'test'));
  const testTitles = testFiles.flatMap((text) => [...text.matchAll(/t\.test\((['"`])(.*?)\1/g)].map((m) => m[2] ?? ''));
  const runtimeMusts = registry.list().filter((r) => r.binds === 'runtime' && r.level === 'MUST' && r.notChecked === undefined);
  const unnamed = runtimeMusts.filter((r) => !testTitles.some((title) => title.includes(r.id))).map((r) => r.id);
  t.same(unnamed, [], 'runtime MUSTs no test names in its title');
});
