/**
 * The run configuration of `kubeplug certify kubelet`: which kubelet command
 * to run (a template whose placeholders the harness fills), on which
 * runtime, pulling from which registry, with which restart back-off cap.
 * Everything is checked before anything starts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The placeholders a kubelet command template may use, and what each becomes. */
export const kubeletCommandPlaceholders = {
  manifests: 'the static pod manifest folder (--pod-manifest-path)',
  cri: 'unix:///… of the CRI spy proxy in front of the runtime (--container-runtime-endpoint)',
  csi: 'unix:///… of the CSI spy proxy in front of the CSI driver',
  'csi-driver': 'the CSI driver\'s name, as volumes name it (spec.volumes[].csi.driver)',
  port: 'the read-only HTTP port (/pods, /healthz, /events), inside the node\'s network namespace',
  root: 'the kubelet\'s state folder (--root-dir)',
  'node-name': 'the node name (--node-name)',
  'max-restart-period': 'the restart back-off cap in seconds (--max-container-restart-period)',
  'cgroup-parent': 'the cgroup parent every pod sandbox must be put under',
} as const;

export type KubeletPlaceholder = keyof typeof kubeletCommandPlaceholders;

/** The values of every placeholder for one run. */
export type PlaceholderValues = Readonly<Record<KubeletPlaceholder, string>>;

/** The CRI runtime the node runs. */
export type NodeRuntime = 'kubeplug' | 'containerd';

/** A flag that cannot be used; the message names it. */
export class KubeletRunConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KubeletRunConfigError';
  }
}

/** The placeholders a drain command template may use (the KUBELET-DRAIN cases run it), and what each becomes. */
export const drainCommandPlaceholders = {
  'kubelet-url': 'the URL that reaches the kubelet\'s read-only port from outside its node (unix:///…sock), as kubeplug drain --kubelet takes it',
  timeout: 'how long the drain may take, as <seconds>s (e.g. 20s)',
} as const;

export type DrainPlaceholder = keyof typeof drainCommandPlaceholders;

/** The flags of a kubelet run, as given. */
export interface KubeletRunInput {
  readonly kubeletCmd?: string;
  readonly drainCmd?: string;
  readonly runtime?: string;
  readonly registry?: string;
  readonly maxRestartPeriodSeconds?: number;
}

/** A checked kubelet run configuration. */
export interface KubeletRunSettings {
  /** The kubelet command template (the reference kubelet's when none was given). */
  readonly kubeletCmd: string;
  /** Whether {@link kubeletCmd} is the reference kubelet's default. */
  readonly defaultKubelet: boolean;
  readonly runtime: NodeRuntime;
  /** `127.0.0.1:PORT` of a registry to push the test images to; unset: the harness starts one. */
  readonly registry?: string;
  readonly maxRestartPeriodSeconds: number;
  /** The drain command template the KUBELET-DRAIN cases run (kubeplug drain's when none was given). */
  readonly drainCmd: string;
}

/** The restart back-off cap the suite runs the kubelet with unless told otherwise: short, so back-off cases end within a case deadline. */
export const defaultMaxRestartPeriodSeconds = 20;

/** The package's built CLI, found from this file in dist or in the sources. */
export function kubeplugCliPath(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const fromDist = path.join(here, '..', '..', 'runner', 'cli.js');
  return fs.existsSync(fromDist) && here.includes(`${path.sep}dist${path.sep}`) ? fromDist : path.join(here, '..', '..', 'dist', 'runner', 'cli.js');
}

/** The reference kubelet's command template (`kubeplug kubelet`, run by this Node). */
export function defaultKubeletCommand(cliPath = kubeplugCliPath()): string {
  return [
    quoteWord(process.execPath),
    quoteWord(cliPath),
    'kubelet',
    '--pod-manifest-path {manifests}',
    '--container-runtime-endpoint {cri}',
    '--csi-endpoint {csi-driver}={csi}',
    '--root-dir {root}',
    '--node-name {node-name}',
    '--read-only-port {port}',
    '--max-container-restart-period {max-restart-period}',
    '--cgroup-parent {cgroup-parent}',
  ].join(' ');
}

/** kubeplug's own drain as a command template (`kubeplug drain`, run by this Node). @see KUBELET-DRAIN-003 */
export function defaultDrainCommand(cliPath = kubeplugCliPath()): string {
  return [quoteWord(process.execPath), quoteWord(cliPath), 'drain', '--kubelet {kubelet-url}', '--timeout {timeout}'].join(' ');
}

/** Fills a drain command template: a plain argv, or `sh -c` when it holds shell syntax (as {@link expandKubeletCommand}). */
export function expandDrainCommand(template: string, values: Readonly<Record<DrainPlaceholder, string>>): ExpandedCommand {
  const fill = (text: string, quote: (value: string) => string): string =>
    text.replace(/\{([a-z-]+)\}/g, (whole, name: string) => (name in values ? quote(values[name as DrainPlaceholder]) : whole));
  const words = splitShellWords(template);
  if (words.some((word) => word.unquotedSyntax)) return { argv: ['sh', '-c', fill(template, quoteWord)], throughShell: true };
  return { argv: words.map((word) => fill(word.text, (value) => value)), throughShell: false };
}

/** `127.0.0.1:PORT` or `localhost:PORT`: a registry the node reaches through a relay into its network namespace. */
const loopbackRegistryPattern = /^(?:127\.0\.0\.1|localhost):\d{1,5}$/;

/** Checks the flags; throws {@link KubeletRunConfigError} naming the first bad one. */
export function loadKubeletRunSettings(input: KubeletRunInput): KubeletRunSettings {
  const runtime = input.runtime ?? 'kubeplug';
  if (runtime !== 'kubeplug' && runtime !== 'containerd') throw new KubeletRunConfigError(`--runtime: ${JSON.stringify(runtime)} is neither kubeplug nor containerd`);
  if (input.registry !== undefined && !loopbackRegistryPattern.test(input.registry)) {
    throw new KubeletRunConfigError(
      `--registry: ${JSON.stringify(input.registry)} is not 127.0.0.1:PORT; the node has a network namespace of its own and reaches only the machine's loopback, through a relay`,
    );
  }
  const period = input.maxRestartPeriodSeconds ?? defaultMaxRestartPeriodSeconds;
  if (!Number.isInteger(period) || period < 1 || period > 300) {
    throw new KubeletRunConfigError(`--max-restart-period must be a whole number of seconds from 1 to 300, got ${String(input.maxRestartPeriodSeconds)}`);
  }
  const kubeletCmd = input.kubeletCmd ?? defaultKubeletCommand();
  checkTemplate(kubeletCmd);
  const drainCmd = checkedDrainCommand(input.drainCmd);
  return {
    kubeletCmd,
    drainCmd,
    defaultKubelet: input.kubeletCmd === undefined,
    runtime,
    ...(input.registry === undefined ? {} : { registry: input.registry.replace(/^localhost:/, '127.0.0.1:') }),
    maxRestartPeriodSeconds: period,
  };
}

/** Throws when a template is empty, names an unknown placeholder, or lacks the ones a kubelet cannot run without. */
function checkTemplate(template: string): void {
  if (template.trim() === '') throw new KubeletRunConfigError('--kubelet-cmd: the command is empty');
  const used = new Set([...template.matchAll(/\{([a-z-]+)\}/g)].map((match) => match[1] as string));
  const unknown = [...used].filter((name) => !(name in kubeletCommandPlaceholders));
  if (unknown.length > 0) {
    throw new KubeletRunConfigError(
      `--kubelet-cmd: unknown placeholder ${unknown.map((name) => `{${name}}`).join(', ')}; known: ${Object.keys(kubeletCommandPlaceholders).map((name) => `{${name}}`).join(' ')}`,
    );
  }
  const missing = (['manifests', 'cri', 'port'] as const).filter((name) => !used.has(name));
  if (missing.length > 0) throw new KubeletRunConfigError(`--kubelet-cmd: the command must use ${missing.map((name) => `{${name}}`).join(', ')}`);
  try {
    splitShellWords(template);
  } catch (error) {
    throw new KubeletRunConfigError(`--kubelet-cmd: ${(error as Error).message}`);
  }
}

/** The drain template to run: `template` once checked, or kubeplug drain's when none was given (`--drain-cmd`, either mode). */
export function checkedDrainCommand(template: string | undefined): string {
  const drainCmd = template ?? defaultDrainCommand();
  checkDrainTemplate(drainCmd);
  return drainCmd;
}

/** Throws when a drain template is empty, names an unknown placeholder, or cannot reach the kubelet. */
function checkDrainTemplate(template: string): void {
  if (template.trim() === '') throw new KubeletRunConfigError('--drain-cmd: the command is empty');
  const used = new Set([...template.matchAll(/\{([a-z-]+)\}/g)].map((match) => match[1] as string));
  const unknown = [...used].filter((name) => !(name in drainCommandPlaceholders));
  if (unknown.length > 0) {
    throw new KubeletRunConfigError(
      `--drain-cmd: unknown placeholder ${unknown.map((name) => `{${name}}`).join(', ')}; known: ${Object.keys(drainCommandPlaceholders).map((name) => `{${name}}`).join(' ')}`,
    );
  }
  if (!used.has('kubelet-url')) throw new KubeletRunConfigError('--drain-cmd: the command must use {kubelet-url}');
  try {
    splitShellWords(template);
  } catch (error) {
    throw new KubeletRunConfigError(`--drain-cmd: ${(error as Error).message}`);
  }
}

/** Shell operators and expansions: a template holding any of them (unquoted) runs through `sh -c`. */
const shellSyntax = /[|&;<>()$`*?~]|^\s*\w+=/;

/** How to start the kubelet: an argv, with `sh -c` in front when the template needs a shell. */
export interface ExpandedCommand {
  readonly argv: readonly string[];
  readonly throughShell: boolean;
}

/**
 * Fills a template's placeholders. A template of plain words is split as a
 * shell would (quotes and backslashes honoured) and each placeholder becomes
 * part of its word unchanged; a template with shell syntax (pipes,
 * redirections, variables, `;`) is run by `sh -c` with each value quoted.
 */
export function expandKubeletCommand(template: string, values: PlaceholderValues): ExpandedCommand {
  const fill = (text: string, quote: (value: string) => string): string =>
    text.replace(/\{([a-z-]+)\}/g, (whole, name: string) => (name in values ? quote(values[name as KubeletPlaceholder]) : whole));
  const words = splitShellWords(template);
  const unquotedSyntax = words.some((word) => word.unquotedSyntax);
  if (unquotedSyntax) return { argv: ['sh', '-c', fill(template, quoteWord)], throughShell: true };
  return { argv: words.map((word) => fill(word.text, (value) => value)), throughShell: false };
}

/** A word as the shell would see it, and whether shell syntax appeared outside quotes in it. */
interface ShellWord {
  readonly text: string;
  readonly unquotedSyntax: boolean;
}

/** Splits on blanks outside quotes; single quotes keep everything, double quotes and backslashes as in sh. */
export function splitShellWords(text: string): ShellWord[] {
  const words: ShellWord[] = [];
  let current = '';
  let inWord = false;
  let syntax = false;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < text.length; i += 1) {
    const char = text[i] as string;
    if (quote === "'") {
      if (char === "'") quote = undefined;
      else current += char;
      continue;
    }
    if (quote === '"') {
      if (char === '"') quote = undefined;
      else if (char === '\\' && i + 1 < text.length && '"\\$`'.includes(text[i + 1] as string)) current += text[++i];
      else {
        if (char === '$' || char === '`') syntax = true;
        current += char;
      }
      continue;
    }
    if (/\s/.test(char)) {
      if (inWord) words.push({ text: current, unquotedSyntax: syntax });
      current = '';
      inWord = false;
      syntax = false;
      continue;
    }
    inWord = true;
    if (char === "'" || char === '"') quote = char;
    else if (char === '\\') {
      if (i + 1 >= text.length) throw new Error('ends with a lone backslash');
      current += text[++i];
    } else {
      if (shellSyntax.test(char) || (char === '=' && current !== '' && /^\w+$/.test(current) && words.length === 0)) syntax = true;
      current += char;
    }
  }
  if (quote !== undefined) throw new Error(`unterminated ${quote} quote`);
  if (inWord) words.push({ text: current, unquotedSyntax: syntax });
  return words;
}

/** Quotes a value for sh: single quotes, with each inner single quote closed, escaped and reopened. */
export function quoteWord(value: string): string {
  if (/^[\w@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
