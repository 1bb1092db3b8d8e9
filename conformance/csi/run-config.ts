import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The secrets file keys csi-sanity reads (`--csi.secrets`), one map per RPC
 * that carries a `secrets` field; kept so one file serves both tools.
 */
export const secretKeys = [
  'CreateVolumeSecret',
  'DeleteVolumeSecret',
  'ControllerPublishVolumeSecret',
  'ControllerUnpublishVolumeSecret',
  'ControllerValidateVolumeCapabilitiesSecret',
  'NodeStageVolumeSecret',
  'NodePublishVolumeSecret',
  'CreateSnapshotSecret',
  'DeleteSnapshotSecret',
  'ControllerExpandVolumeSecret',
  'NodeExpandVolumeSecret',
  'ListSnapshotsSecret',
  'ControllerModifyVolumeSecret',
] as const;

/** One of {@link secretKeys}. */
export type SecretKey = (typeof secretKeys)[number];

/** Secrets to send per RPC; an RPC without an entry gets none. */
export type CsiSecrets = Readonly<Partial<Record<SecretKey, Readonly<Record<string, string>>>>>;

/** Everything a CSI run is configured with beyond the endpoints (flag meanings as csi-sanity's). */
export interface CsiRunConfig {
  /** An existing folder under which the suite makes each case's publish target (`--mount-dir`). */
  readonly mountDir: string;
  /** An existing folder under which the suite makes each case's staging folder (`--staging-dir`). */
  readonly stagingDir: string;
  /** Whether the suite made the two folders above and must remove them when the run ends. */
  readonly ownsDirs: boolean;
  readonly secrets: CsiSecrets;
  /** Sent as `parameters` of every CreateVolume (`--test-volume-parameters`). */
  readonly testVolumeParameters: Readonly<Record<string, string>>;
  /** Size the suite asks for when a case does not care (`--test-volume-size`). */
  readonly testVolumeSizeBytes: number;
  /** A command that restarts the plugin on the same endpoints; cases that restart it need one. */
  readonly restartCommand?: string;
}

/** The flags as given; anything missing gets csi-sanity's default. */
export interface CsiRunConfigInput {
  readonly mountDir?: string;
  readonly stagingDir?: string;
  readonly secretsFile?: string;
  readonly testVolumeParametersFile?: string;
  readonly testVolumeSizeBytes?: number;
  readonly restartCommand?: string;
}

/** A run configuration file or flag that cannot be used; the message names the flag. */
export class CsiRunConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CsiRunConfigError';
  }
}

/**
 * Size asked for when no case needs a particular one. csi-sanity asks for
 * 10 GiB; 64 MiB keeps a run light on drivers that allocate for real, and
 * a driver with a larger minimum may round up (required_bytes is a floor).
 */
export const defaultTestVolumeSizeBytes = 64 * 1024 * 1024;

/**
 * Reads the run configuration from the flags. Folders not given are made
 * fresh under the system temp folder (and marked as owned, so they are
 * removed at the end); given ones must exist.
 */
export function loadCsiRunConfig(input: CsiRunConfigInput): CsiRunConfig {
  const secrets = input.secretsFile === undefined ? {} : readSecrets(input.secretsFile);
  const testVolumeParameters =
    input.testVolumeParametersFile === undefined
      ? {}
      : readStringMap(input.testVolumeParametersFile, '--test-volume-parameters');
  const size = input.testVolumeSizeBytes ?? defaultTestVolumeSizeBytes;
  if (!Number.isSafeInteger(size) || size <= 0) {
    throw new CsiRunConfigError(`--test-volume-size: ${size} is not a positive whole number of bytes`);
  }
  for (const [flag, dir] of [['--mount-dir', input.mountDir], ['--staging-dir', input.stagingDir]] as const) {
    if (dir !== undefined && !isDirectory(dir)) throw new CsiRunConfigError(`${flag}: ${dir} is not an existing folder`);
  }
  const ownsDirs = input.mountDir === undefined || input.stagingDir === undefined;
  const base = ownsDirs ? fs.mkdtempSync(path.join(os.tmpdir(), 'kubeplug-csi-')) : '';
  const made = (name: string): string => {
    const dir = path.join(base, name);
    fs.mkdirSync(dir);
    return dir;
  };
  return {
    mountDir: path.resolve(input.mountDir ?? made('mount')),
    stagingDir: path.resolve(input.stagingDir ?? made('staging')),
    ownsDirs,
    secrets,
    testVolumeParameters,
    testVolumeSizeBytes: size,
    ...(input.restartCommand === undefined ? {} : { restartCommand: input.restartCommand }),
  };
}

function isDirectory(dir: string): boolean {
  try {
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

function readSecrets(file: string): CsiSecrets {
  const parsed = readNested(file, '--secrets');
  const secrets: Partial<Record<SecretKey, Record<string, string>>> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (!(secretKeys as readonly string[]).includes(key)) {
      throw new CsiRunConfigError(`--secrets: ${file}: unknown key "${key}" (known: ${secretKeys.join(', ')})`);
    }
    if (typeof value !== 'object') throw new CsiRunConfigError(`--secrets: ${file}: "${key}" must be a map of strings`);
    secrets[key as SecretKey] = value;
  }
  return secrets;
}

function readStringMap(file: string, flag: string): Record<string, string> {
  const parsed = readNested(file, flag);
  const map: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (typeof value !== 'string') throw new CsiRunConfigError(`${flag}: ${file}: "${key}" must be a string`);
    map[key] = value;
  }
  return map;
}

type Nested = Record<string, string | Record<string, string>>;

/**
 * Reads JSON, or the two-level YAML subset csi-sanity's files use
 * (`Key:` then indented `name: value` lines; `#` comments; optional quotes).
 */
function readNested(file: string, flag: string): Nested {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new CsiRunConfigError(`${flag}: cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  if (text.trimStart().startsWith('{')) {
    try {
      return jsonNested(JSON.parse(text) as unknown, `${flag}: ${file}`);
    } catch (error) {
      if (error instanceof CsiRunConfigError) throw error;
      throw new CsiRunConfigError(`${flag}: ${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
    }
  }
  const result: Nested = {};
  let section: Record<string, string> | undefined;
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.replace(/\s+#.*$/, '').replace(/^#.*$/, '');
    if (line.trim() === '') continue;
    const match = /^(\s*)("[^"]*"|'[^']*'|[^:\s][^:]*?)\s*:\s*(.*)$/.exec(line);
    if (match === null) throw new CsiRunConfigError(`${flag}: ${file}:${index + 1}: expected "key: value"`);
    const [, indent = '', rawKey = '', rawValue = ''] = match;
    const key = unquote(rawKey);
    if (indent === '') {
      if (rawValue === '') {
        section = {};
        result[key] = section;
      } else {
        section = undefined;
        result[key] = unquote(rawValue);
      }
    } else {
      if (section === undefined) throw new CsiRunConfigError(`${flag}: ${file}:${index + 1}: indented line outside a section`);
      section[key] = unquote(rawValue);
    }
  }
  return result;
}

function jsonNested(value: unknown, where: string): Nested {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CsiRunConfigError(`${where}: expected an object`);
  const result: Nested = {};
  for (const [key, item] of Object.entries(value)) {
    if (typeof item === 'string') result[key] = item;
    else if (typeof item === 'object' && item !== null && !Array.isArray(item)) {
      const section: Record<string, string> = {};
      for (const [name, inner] of Object.entries(item)) {
        if (typeof inner !== 'string') throw new CsiRunConfigError(`${where}: "${key}.${name}" must be a string`);
        section[name] = inner;
      }
      result[key] = section;
    } else throw new CsiRunConfigError(`${where}: "${key}" must be a string or a map of strings`);
  }
  return result;
}

function unquote(text: string): string {
  const trimmed = text.trim();
  if (trimmed.length >= 2 && (trimmed[0] === '"' || trimmed[0] === "'") && trimmed.at(-1) === trimmed[0]) {
    return trimmed.slice(1, -1);
  }
  return trimmed;
}
