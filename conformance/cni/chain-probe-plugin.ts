#!/usr/bin/env node
/**
 * A recording IPAM plugin that stands in front of the real one, so a case can
 * see from outside what a main plugin delegates (CNI-IPAM). It reads its
 * settings from the `ipam` section of the request it gets:
 *
 * - `probeLog`: a file; every call appends one JSON line with the verb, the
 *   environment and stdin it received, then one line with the delegate's answer;
 * - `probeDelegate`: the real IPAM type, found on CNI_PATH and run with the
 *   same environment and the same request, except that `ipam.type` is put
 *   back to the delegate and the probe's own keys are taken out, so the real
 *   plugin reads exactly what it would have read without the probe;
 * - `probeFail`: verbs whose answer the probe turns into an error (code 11)
 *   after the delegate has run, to see how the caller handles a failing
 *   delegate.
 *
 * Plain Node with no imports from the project: the case copies this file
 * next to nothing else and runs it as an executable.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const probeKeys = ['probeLog', 'probeDelegate', 'probeFail'];

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function fail(version: unknown, code: number, msg: string): void {
  process.stdout.write(JSON.stringify({ cniVersion: typeof version === 'string' ? version : '1.0.0', code, msg }));
  process.exitCode = 1;
}

function runDelegate(file: string, stdin: string): Promise<{ exitCode: number | null; signal: string | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, [], { env: process.env, stdio: ['pipe', 'pipe', 'inherit'] });
    const stdout: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.once('error', reject);
    child.once('close', (exitCode, signal) => resolve({ exitCode, signal, stdout: Buffer.concat(stdout).toString('utf8') }));
    child.stdin.on('error', () => {});
    child.stdin.end(stdin);
  });
}

const verb = process.env['CNI_COMMAND'] ?? '';
const stdin = verb === 'VERSION' ? '' : await readStdin();
let conf: Record<string, unknown> | undefined;
try {
  conf = JSON.parse(stdin) as Record<string, unknown>;
} catch {
  conf = undefined;
}
const ipam = (conf?.['ipam'] ?? {}) as Record<string, unknown>;
const log = typeof ipam['probeLog'] === 'string' ? ipam['probeLog'] : undefined;
const record = (entry: Record<string, unknown>): void => {
  if (log !== undefined) fs.appendFileSync(log, `${JSON.stringify({ at: Date.now(), pid: process.pid, ppid: process.ppid, ...entry })}\n`);
};

if (verb === 'VERSION') {
  process.stdout.write(JSON.stringify({ cniVersion: '1.1.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] }));
} else if (conf === undefined) {
  fail(undefined, 6, 'kubeplug probe: stdin is not JSON');
} else {
  record({ kind: 'received', verb, env: { ...process.env }, stdin });
  const delegateType = ipam['probeDelegate'];
  const found =
    typeof delegateType === 'string'
      ? (process.env['CNI_PATH'] ?? '')
          .split(':')
          .filter((dir) => dir !== '')
          .map((dir) => path.join(dir, delegateType))
          .find((candidate) => fs.existsSync(candidate))
      : undefined;
  if (found === undefined) {
    record({ kind: 'delegate', verb, missing: delegateType });
    fail(conf['cniVersion'], 7, `kubeplug probe: delegate ${String(delegateType)} not found on CNI_PATH`);
  } else {
    const realIpam: Record<string, unknown> = Object.fromEntries(Object.entries(ipam).filter(([key]) => !probeKeys.includes(key)));
    realIpam['type'] = delegateType;
    const answer = await runDelegate(found, JSON.stringify({ ...conf, ipam: realIpam }));
    record({ kind: 'delegate', verb, exitCode: answer.exitCode, signal: answer.signal, stdout: answer.stdout });
    const failing = Array.isArray(ipam['probeFail']) && ipam['probeFail'].includes(verb);
    if (failing) {
      fail(conf['cniVersion'], 11, `kubeplug probe: injected ${verb} failure`);
    } else {
      process.stdout.write(answer.stdout);
      process.exitCode = answer.exitCode ?? 1;
    }
  }
}
