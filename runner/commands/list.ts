import type { Argv } from 'yargs';
import type { RequirementCoverage } from '../../conformance/framework/coverage.js';
import { interfaceNames, type InterfaceName } from '../../specs/registry/requirement.js';
import type { CommandIo } from './certify.js';

/** `kubeplug list [interface] [--json]`: the requirements with their level and coverage. */
export function listCommand(io: CommandIo) {
  return {
    command: 'list [interface]',
    describe: 'List the requirements of one interface (or all) with level and coverage',
    builder: (yargs: Argv) =>
      yargs
        .positional('interface', { choices: interfaceNames, describe: 'cri, cni, csi or kubelet' })
        .option('json', { type: 'boolean', default: false, describe: 'Print JSON instead of a table' }),
    handler: async (argv: { interface?: InterfaceName | undefined; json: boolean }) => {
      const [{ coverageOf }, { loadRegistry }, { declaredCasesOf }] = await Promise.all([
        import('../../conformance/framework/coverage.js'),
        import('../../specs/registry/registry.js'),
        import('../suites.js'),
      ]);
      const registry = loadRegistry();
      const chosen = argv.interface === undefined ? interfaceNames : [argv.interface];
      const listing: { iface: InterfaceName; coverage: RequirementCoverage[] }[] = [];
      for (const iface of chosen) {
        listing.push({ iface, coverage: coverageOf(registry.list(iface), await declaredCasesOf(iface)) });
      }
      io.out.write(argv.json ? renderJson(listing) : renderTable(listing));
    },
  };
}

function renderJson(listing: { iface: InterfaceName; coverage: RequirementCoverage[] }[]): string {
  const requirements = listing.flatMap(({ coverage }) =>
    coverage.map(({ requirement, kind, cases }) => ({
      id: requirement.id,
      interface: requirement.iface,
      level: requirement.level,
      title: requirement.title,
      section: requirement.section,
      source: requirement.source,
      // Runtime rules are checked by kubeplug's own invoker and harness tests (test/specs/registry.test.ts enforces it).
      coverage: kind === 'uncovered' && requirement.binds === 'runtime' && requirement.level === 'MUST' ? 'kit-tests' : kind,
      binds: requirement.binds,
      cases,
      ...(requirement.notChecked === undefined ? {} : { notCheckedReason: requirement.notChecked }),
    })),
  );
  return `${JSON.stringify({ requirements }, null, 2)}\n`;
}

function renderTable(listing: { iface: InterfaceName; coverage: RequirementCoverage[] }[]): string {
  const lines: string[] = [];
  for (const { iface, coverage } of listing) {
    lines.push(`${iface.toUpperCase()}: ${coverage.length} requirement(s)`);
    if (coverage.length === 0) {
      lines.push('  none stated yet', '');
      continue;
    }
    const idWidth = Math.max(...coverage.map(({ requirement }) => requirement.id.length));
    for (const { requirement, kind, cases } of coverage) {
      const covered =
        kind === 'case'
          ? `${cases.length} case${cases.length === 1 ? '' : 's'}`
          : kind === 'not-checked'
            ? 'not checked'
            : requirement.binds === 'runtime' && requirement.level === 'MUST'
              ? 'kit tests'
              : 'UNCOVERED';
      lines.push(`  ${requirement.id.padEnd(idWidth)}  ${requirement.level.padEnd(6)}  ${covered.padEnd(11)}  ${requirement.title}`);
      if (kind === 'not-checked') lines.push(`  ${' '.repeat(idWidth + 23)}why: ${requirement.notChecked ?? ''}`);
    }
    const count = (wanted: string): number => coverage.filter(({ kind }) => kind === wanted).length;
    const runtime = coverage.filter(({ kind, requirement }) => kind === 'uncovered' && requirement.binds === 'runtime' && requirement.level === 'MUST').length;
    lines.push(
      `  covered by cases: ${count('case')}, runtime MUSTs checked by kit tests: ${runtime}, not checked (with reason): ${count('not-checked')}, uncovered: ${count('uncovered') - runtime}`,
      '',
    );
  }
  return `${lines.join('\n')}\n`;
}
