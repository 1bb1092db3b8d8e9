/** Runs `kubeplug certify cni` as a user does and reads its JSON certificate. */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../specs/registry/index.js';
import { cliPath } from './run-cli.js';

/** The parts of a JSON certificate the tests read. */
export interface Certificate {
  verdict: { certified: boolean };
  runs: { subject: Record<string, unknown>; requirements: { id: string; level: string; status: string }[] }[];
}

/** Runs `certify cni ARGS` with a JSON report in `dir`; resolves to the exit code, the certificate and stdout. */
export function certifyCni(args: string[], dir: string): Promise<{ code: number; certificate: Certificate; stdout: string }> {
  const report = path.join(dir, `certificate-${Date.now()}.json`);
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [cliPath, 'certify', 'cni', ...args, '--report', `json=${report}`], { cwd: packageRoot(), timeout: 900_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      try {
        resolve({ code, certificate: JSON.parse(fs.readFileSync(report, 'utf8')) as Certificate, stdout });
      } catch (cause) {
        reject(new Error(`no certificate (exit ${code}): ${stdout.slice(-2000)}`, { cause }));
      }
    });
  });
}

/** The requirement IDs a known-deviations file lists. */
export function deviationIdsOf(file: string): string[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => /^CNI-/.test(line))
    .map((line) => line.split(' ')[0] as string);
}
