/**
 * Judges what the first plugin of a network did with one request made by
 * hand: the shape of its ADD result for the requested version (CNI-RESULT),
 * how it refused a request (CNI-ERR), and what a refusal left behind. The
 * judgements are pure; thin recorders turn them into checks on a case.
 */
import net from 'node:net';
import path from 'node:path';
import { atLeast, isCniVersion, resultFamily, runPluginProcess, type CniVerb, type JsonObject, type NetConfList, type PluginRun } from '../../specs/cni/index.js';
import type { CaseContext, CheckInput } from '../framework/index.js';
import { caseNamespace, caseNode, invokeRaw, networkCopy, rawCall, snapshotNode, type CaseNode, type NodeSnapshot } from './cni-harness.js';
import type { CniSubject } from './cni-subject.js';
import { isKernelLinkLocal } from './observe.js';
import type { NetworkNamespace } from './network-namespaces.js';

type Ctx = CaseContext<CniSubject>;

/** One broken rule found in what a plugin printed. */
export interface Problem {
  readonly id: string;
  readonly problem: string;
}

// ---------------------------------------------------------------------------
// Scenes: a node, a pod and a private network copy to call the first plugin in.

/** What the node and the pod of a scene hold, as comparable lines. */
type SceneState = ReadonlySet<string>;

/** A node namespace, a pod namespace and a private copy of the network, for cases that call the first plugin by hand. */
export interface PluginScene {
  readonly node: CaseNode;
  readonly pod: NetworkNamespace;
  /** The per-case network copy at the run's version; requests change `cniVersion` through {@link SceneRequestOptions.conf}. */
  readonly list: NetConfList;
  /** Where the copy's host-local-style IPAM keeps its state. */
  readonly stateDir: string;
  /** What node and pod held after the last call judged for leftovers. */
  baseline: SceneState;
}

/** Creates a scene; namespaces are removed when the case ends, whatever happens. */
export async function createScene(ctx: Ctx): Promise<PluginScene> {
  const node = await caseNode(ctx);
  const pod = await caseNamespace(ctx, 'pod');
  const list = networkCopy(ctx);
  const stateDir = path.join(ctx.subject.runDir, list.name);
  const scene: PluginScene = { node, pod, list, stateDir, baseline: new Set() };
  scene.baseline = await sceneState(scene);
  return scene;
}

/** How {@link sceneRequest} deviates from the request the invoker would send. */
export interface SceneRequestOptions {
  readonly containerId?: string;
  readonly ifName?: string;
  /** Set, replace (a string) or remove (undefined) environment variables after the usual ones are built. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Rewrites the request configuration, or replaces stdin with a string. */
  readonly conf?: (conf: JsonObject) => JsonObject | string;
}

/** The container a request concerns, for requests that concern one. */
export interface SceneRequest {
  readonly env: Record<string, string>;
  readonly stdin: string;
  readonly containerId: string;
  readonly ifName: string;
}

/**
 * The environment and stdin the invoker would send the first plugin for a
 * verb on a fresh container in the scene's pod, then changed as asked.
 * GC, STATUS and VERSION carry no attachment variables.
 */
export function sceneRequest(ctx: Ctx, scene: PluginScene, verb: CniVerb, options: SceneRequestOptions = {}): SceneRequest {
  const containerId = options.containerId ?? ctx.uniqueName('kpctr');
  const ifName = options.ifName ?? 'eth0';
  const rt = { containerId, netns: scene.pod.path, ifName };
  const attached = verb === 'ADD' || verb === 'DEL' || verb === 'CHECK';
  const call = attached ? { verb, ...rt, cniPath: ctx.subject.cniPath } : { verb, cniPath: ctx.subject.cniPath };
  const raw = rawCall(scene.list, call, attached ? rt : undefined);
  const env = { ...raw.env };
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  const conf = JSON.parse(raw.stdin) as JsonObject;
  const changed = options.conf === undefined ? conf : options.conf(conf);
  return { env, stdin: typeof changed === 'string' ? changed : JSON.stringify(changed), containerId, ifName };
}

/** Sets the request's `cniVersion` (or removes it, for undefined). */
export function withVersion(version: string | undefined): (conf: JsonObject) => JsonObject {
  return (conf) => {
    const { cniVersion: _dropped, ...rest } = conf;
    return version === undefined ? rest : { ...rest, cniVersion: version };
  };
}

/**
 * Asks the first plugin VERSION, recorded as evidence: with nothing but
 * CNI_COMMAND set when `bare`, else as a runtime does (CNI_PATH too), so
 * cases about other rules do not depend on CNI-VERSION-001.
 */
export function askVersion(ctx: Ctx, scene: PluginScene, stdin: string, options: { bare?: boolean } = {}): Promise<PluginRun> {
  const env: Record<string, string> = options.bare === true ? { CNI_COMMAND: 'VERSION' } : { CNI_COMMAND: 'VERSION', CNI_PATH: ctx.subject.cniPath.join(':') };
  return callRaw(ctx, scene, { env, stdin, containerId: '', ifName: '' });
}

/** The first plugin's own supportedVersions, asked as a runtime asks, in the run's version; undefined without a usable answer. */
export async function firstPluginVersions(ctx: Ctx, scene: PluginScene): Promise<string[] | undefined> {
  const answer = parseOneObject((await askVersion(ctx, scene, JSON.stringify({ cniVersion: ctx.subject.version }))).stdout);
  const versions = answer.ok ? answer.value['supportedVersions'] : undefined;
  return Array.isArray(versions) && versions.every((version) => typeof version === 'string') ? (versions as string[]) : undefined;
}

/** The first plugin's supportedVersions; ends the case (CNI-VERSION-002 failed) without a usable answer. */
export async function requireListedVersions(ctx: Ctx, scene: PluginScene): Promise<string[]> {
  const versions = await firstPluginVersions(ctx, scene);
  ctx.require(versions !== undefined, { ids: ['CNI-VERSION-002'], what: 'VERSION lists the supported versions', expected: 'supportedVersions', got: 'no usable VERSION answer' });
  return versions;
}

/** Adds `prevResult` to a request of 0.4.0 or later, as libcni does for DEL and CHECK. */
export function withPrevResult(prevResult: unknown): (conf: JsonObject) => JsonObject {
  return (conf) => {
    const version = conf['cniVersion'];
    const carries = prevResult !== undefined && typeof version === 'string' && isCniVersion(version) && atLeast(version, '0.4.0');
    return carries ? { ...conf, prevResult } : conf;
  };
}

/** Runs the first plugin once with a scene request, recorded as evidence. */
export function callRaw(ctx: Ctx, scene: PluginScene, request: SceneRequest): Promise<PluginRun> {
  return invokeRaw(ctx, scene.node, { env: request.env, stdin: request.stdin });
}

/**
 * Registers, before an ADD is attempted, a DEL of the same request for the
 * end of the case, so an ADD the plugin should have refused but accepted is
 * still undone. It runs unrecorded: it is cleanup, not evidence.
 */
export function deferDel(ctx: Ctx, scene: PluginScene, request: SceneRequest): void {
  ctx.defer(async () => {
    const pluginPath = await scene.node.invoker.findPlugin(String(scene.list.plugins[0]?.['type']));
    await runPluginProcess(pluginPath, { ...request.env, CNI_COMMAND: 'DEL' }, request.stdin, scene.node.invoker.options.exec);
  }, `DEL ${request.containerId}`);
}

/** Sends a request that must be refused, judges the refusal, and undoes the request if the plugin took it. */
export async function refuseRequest(ctx: Ctx, scene: PluginScene, verb: CniVerb, options: SceneRequestOptions, refusal: Refusal): Promise<void> {
  const request = sceneRequest(ctx, scene, verb, options);
  if (verb === 'ADD') deferDel(ctx, scene, request);
  const run = await callRaw(ctx, scene, request);
  await checkRefusal(ctx, scene, run, refusal);
  await undoAccepted(ctx, scene, request, run);
}

/** After an ADD the plugin accepted although it should not have: DEL it now and take a new baseline. */
export async function undoAccepted(ctx: Ctx, scene: PluginScene, request: SceneRequest, run: PluginRun): Promise<void> {
  if (request.env['CNI_COMMAND'] !== 'ADD' || refused(run)) return;
  const parsed = parseOneObject(run.stdout);
  const prevResult = parsed.ok ? parsed.value : undefined;
  const conf = JSON.parse(request.stdin) as JsonObject;
  await invokeRaw(ctx, scene.node, { env: { ...request.env, CNI_COMMAND: 'DEL' }, stdin: JSON.stringify(withPrevResult(prevResult)(conf)) });
  await rebaseline(scene);
}

async function sceneState(scene: PluginScene): Promise<SceneState> {
  const [node, pod] = await Promise.all([snapshotNode(scene.node.namespace, scene.stateDir), snapshotNode(scene.pod)]);
  return new Set(stateLines(node, pod));
}

function stateLines(node: NodeSnapshot, pod: NodeSnapshot): string[] {
  return [
    ...node.links.map((link) => `node link ${link}`),
    ...node.addresses.filter((address) => !isKernelLinkLocal(address)).map((address) => `node address ${address}`),
    ...node.iptables.map((rule) => `node iptables ${rule}`),
    // host-local remembers where it last allocated; that file is a cursor, not a reservation.
    ...node.stateFiles.filter((file) => !/(^|\/)last_reserved_ip\.[^/]*$/.test(file)).map((file) => `state file ${file}`),
    ...pod.links.map((link) => `pod link ${link}`),
    ...pod.addresses.filter((address) => !isKernelLinkLocal(address)).map((address) => `pod address ${address}`),
    ...pod.iptables.map((rule) => `pod iptables ${rule}`),
  ];
}

/** What node and pod hold now that they did not at the last look; the look becomes the new baseline. */
export async function leftoversSince(scene: PluginScene): Promise<string[]> {
  const now = await sceneState(scene);
  const added = [...now].filter((line) => !scene.baseline.has(line));
  scene.baseline = now;
  return added;
}

/** Takes a new baseline without judging (after an accepted request was undone). */
export async function rebaseline(scene: PluginScene): Promise<void> {
  scene.baseline = await sceneState(scene);
}

/** Links of a namespace, by name. */
export async function linkNames(namespace: NetworkNamespace): Promise<string[]> {
  return (await snapshotNode(namespace)).links;
}

// ---------------------------------------------------------------------------
// Refusals.

/** What the refusal of one provoked condition must look like. */
export interface Refusal {
  /** The provoked condition as a phrase: "ADD with a 16-byte CNI_IFNAME". */
  readonly condition: string;
  /** IDs that demand the request fail; CNI-ERR-001 is judged besides. */
  readonly mustFail: readonly string[];
  /** Codes below 100 whose assigned meaning fits the condition (CNI-ERR-007). */
  readonly warranted: readonly number[];
  /** A code a rule demands for the condition, and that rule. */
  readonly demand?: { readonly code: number; readonly ids: readonly string[] };
  /** Variables a code 4 message must name (CNI-ERR-012). */
  readonly variables?: readonly string[];
  /** The request's `cniVersion` when the plugin lists it: the error object should carry it (CNI-ERR-004). */
  readonly servedVersion?: string;
  /** The plugin holds an attachment the request concerns, so code 3 would be a lie (CNI-ERR-010). */
  readonly holdsAttachment?: boolean;
  /** IDs that demand nothing be left behind; none means leftovers are not judged. */
  readonly nothingLeft: readonly string[];
}

/** The IDs {@link judgeRefusal} may record checks for, besides a refusal's own. */
export const refusalIds = ['CNI-ERR-001', 'CNI-ERR-002', 'CNI-ERR-003', 'CNI-ERR-004', 'CNI-ERR-005', 'CNI-ERR-007', 'CNI-ERR-010'] as const;

/** An error object as the plugin printed it, if stdout held exactly one JSON object with a `code`. */
export function errorObjectOf(run: PluginRun): JsonObject | undefined {
  const parsed = parseOneObject(run.stdout);
  return parsed.ok && 'code' in parsed.value ? parsed.value : undefined;
}

/** Keys only a success result or a VERSION answer has. */
const successKeys = ['interfaces', 'ips', 'routes', 'ip4', 'ip6', 'supportedVersions'];

/** True when the plugin refused: a non-zero exit, or an error object printed even with exit 0. */
export function refused(run: PluginRun): boolean {
  return run.exitCode !== 0 || errorObjectOf(run) !== undefined;
}

/** The error code a refused run printed, if it printed a numeric one. */
export function codeOf(run: PluginRun): number | undefined {
  const code = errorObjectOf(run)?.['code'];
  return typeof code === 'number' ? code : undefined;
}

/** A check as judged, before it is recorded. */
export interface JudgedCheck extends CheckInput {
  readonly passed: boolean;
}

/**
 * Judges a refusal: that it failed with a non-zero exit, printed no success
 * result, printed a well-formed error object, used a code that fits the
 * condition, and (given the leftovers) left nothing behind. A request the
 * plugin accepted yields only the failed "the request fails".
 */
export function judgeRefusal(run: PluginRun, refusal: Refusal, leftovers: readonly string[]): JudgedCheck[] {
  const checks: JudgedCheck[] = [];
  const judge = (passed: boolean, check: CheckInput): void => {
    checks.push({ ...check, passed });
  };
  const what = (text: string): string => `${refusal.condition}: ${text}`;
  const failIds = refusal.mustFail.length > 0 ? refusal.mustFail : (refusal.demand?.ids ?? []);
  const wasRefused = refused(run);
  if (failIds.length > 0) judge(wasRefused, { ids: failIds, what: what('the request fails'), expected: 'a failure', got: describeRun(run) });
  if (!wasRefused) return checks;
  judge(run.exitCode !== 0, { ids: ['CNI-ERR-001'], what: what('the failure exits non-zero'), expected: 'exit status ≠ 0', got: describeRun(run) });
  if (refusal.nothingLeft.length > 0) {
    judge(leftovers.length === 0, { ids: refusal.nothingLeft, what: what('nothing is left behind in the node or the pod'), expected: [], got: leftovers });
  }

  const stdout = run.stdout.trim();
  const parsed = parseOneObject(run.stdout);
  const shown = stdout === '' ? '(nothing)' : parsed.ok ? parsed.value : stdout.slice(0, 300);
  const successLike = parsed.ok && (!('code' in parsed.value) || successKeys.some((key) => key in parsed.value));
  judge(!successLike, { ids: ['CNI-ERR-002'], what: what('stdout holds no success result'), expected: 'an error object or nothing', got: shown });
  const error = errorObjectOf(run);
  judge(error !== undefined, { ids: ['CNI-ERR-003'], what: what('one JSON error object is printed on stdout'), expected: '{"code": …, "msg": …}', got: shown });
  const code = error?.['code'];
  if (refusal.demand !== undefined && typeof code !== 'number') {
    // A demanded code that was never printed is a demanded code not given.
    judge(false, { ids: refusal.demand.ids, what: what(`the error code is ${refusal.demand.code}`), expected: refusal.demand.code, got: shown });
  }
  if (error === undefined) return checks;

  const { msg, cniVersion } = error;
  judge(Number.isInteger(code) && (code as number) >= 0 && typeof msg === 'string' && msg !== '', {
    ids: ['CNI-ERR-005'],
    what: what('the error object has a non-negative integer code and a non-empty msg'),
    expected: '{"code": <integer ≥ 0>, "msg": "<non-empty>"}',
    got: { code: code ?? null, msg: msg ?? null },
  });
  judge(refusal.servedVersion !== undefined ? cniVersion === refusal.servedVersion : isCniVersion(cniVersion), {
    ids: ['CNI-ERR-004'],
    what: what('the error object states the protocol version'),
    expected: refusal.servedVersion ?? 'a released spec version',
    got: cniVersion ?? '(no cniVersion)',
  });
  if (typeof code !== 'number') return checks;

  judge(code >= 100 || refusal.warranted.includes(code), {
    ids: ['CNI-ERR-007'],
    what: what('a code below 100 is one whose meaning fits'),
    expected: `${refusal.warranted.length === 0 ? 'no code below 100' : `one of ${refusal.warranted.join(', ')}`}, or a plugin code ≥ 100`,
    got: code,
  });
  if (refusal.demand !== undefined) {
    judge(code === refusal.demand.code, { ids: refusal.demand.ids, what: what(`the error code is ${refusal.demand.code}`), expected: refusal.demand.code, got: code });
  }
  const text = `${typeof msg === 'string' ? msg : ''} ${typeof error['details'] === 'string' ? error['details'] : ''}`.trim();
  if (code === 4 && refusal.variables !== undefined) {
    const unnamed = refusal.variables.filter((name) => !namesVariable(text, name));
    judge(unnamed.length === 0, {
      ids: ['CNI-ERR-012'],
      what: what(`the code 4 message names ${refusal.variables.join(', ')}`),
      expected: refusal.variables,
      got: unnamed.length === 0 ? text : `${JSON.stringify(text)} does not name ${unnamed.join(', ')}`,
    });
  }
  if (code === 3) {
    judge(refusal.holdsAttachment !== true && leftovers.length === 0, {
      ids: ['CNI-ERR-010'],
      what: what('code 3 comes only when the plugin holds nothing for the attachment'),
      expected: 'nothing held',
      got: refusal.holdsAttachment === true ? 'the attachment was added and is still there' : leftovers.length === 0 ? 'nothing held' : leftovers,
    });
  }
  return checks;
}

/** Names a variable: its full name, or without the `CNI_` prefix, ignoring case ("containerID" names CNI_CONTAINERID). */
function namesVariable(text: string, name: string): boolean {
  const lower = text.toLowerCase();
  return lower.includes(name.toLowerCase()) || lower.includes(name.replace(/^CNI_/, '').toLowerCase());
}

/** A run in one line, for evidence. */
export function describeRun(run: PluginRun): string {
  const how = run.signal === null ? `exit ${run.exitCode}` : `killed by ${run.signal}`;
  const stdout = run.stdout.trim();
  return stdout === '' ? `${how}, nothing on stdout` : `${how}, stdout ${stdout.replace(/\s+/g, ' ').slice(0, 300)}`;
}

/**
 * Records a refusal's checks on the case: looks at what node and pod hold
 * now (the look becomes the scene's new baseline) and judges the run.
 * Returns the error code, if one was printed.
 */
export async function checkRefusal(ctx: Ctx, scene: PluginScene, run: PluginRun, refusal: Refusal): Promise<number | undefined> {
  const leftovers = await leftoversSince(scene);
  for (const { passed, ...check } of judgeRefusal(run, refusal, leftovers)) ctx.check(passed, check);
  return codeOf(run);
}

// ---------------------------------------------------------------------------
// Results.

/** Parses stdout that must be exactly one JSON object. */
export function parseOneObject(stdout: string): { ok: true; value: JsonObject } | { ok: false; problem: string } {
  if (stdout.trim() === '') return { ok: false, problem: 'stdout is empty' };
  let value: unknown;
  try {
    value = JSON.parse(stdout);
  } catch (error) {
    return { ok: false, problem: `stdout is not one JSON document: ${(error as Error).message}` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { ok: false, problem: 'stdout is JSON but not an object' };
  return { ok: true, value: value as JsonObject };
}

/** Where the interfaces of an ADD ended up, as observed in the namespaces right after it. */
export interface Placement {
  /** `CNI_NETNS` of the request. */
  readonly netns: string;
  /** `CNI_IFNAME` of the request. */
  readonly ifName: string;
  /** Links in the container's namespace after ADD. */
  readonly containerLinks: readonly string[];
  /** Links in the node's namespace after ADD. */
  readonly hostLinks: readonly string[];
  /** Links that appeared with the ADD, in either namespace. */
  readonly created: readonly string[];
  /** Addresses (CIDR) on `CNI_IFNAME` in the container after ADD, link-local IPv6 left out. */
  readonly containerAddresses: readonly string[];
}

/** The rules a result of `version` is judged by, with or without a placement to compare against. */
export function resultRuleIds(version: string, withPlacement: boolean): string[] {
  const family = resultFamily(version);
  if (family === '020') {
    return ['CNI-RESULT-002', 'CNI-RESULT-016', 'CNI-RESULT-020', 'CNI-RESULT-021', 'CNI-RESULT-023', ...(withPlacement ? ['CNI-RESULT-022'] : [])];
  }
  const common = ['CNI-RESULT-002', 'CNI-RESULT-005', 'CNI-RESULT-006', 'CNI-RESULT-007', 'CNI-RESULT-009', 'CNI-RESULT-010', 'CNI-RESULT-011', 'CNI-RESULT-012', 'CNI-RESULT-014', 'CNI-RESULT-015', 'CNI-RESULT-016'];
  const placed = withPlacement ? ['CNI-RESULT-004', 'CNI-RESULT-008'] : [];
  return family === '100' ? ['CNI-RESULT-003', ...common, 'CNI-RESULT-019', ...placed] : ['CNI-RESULT-017', ...common, 'CNI-RESULT-018', ...placed];
}

/**
 * Every way an ADD result breaks the CNI-RESULT rules for `version`. With a
 * placement, also whether it lists what ADD created and says where each
 * interface is.
 */
export function resultProblems(result: unknown, version: string, placement?: Placement): Problem[] {
  const problems: Problem[] = [];
  const add = (id: string, problem: string): void => {
    problems.push({ id, problem });
  };
  const family = resultFamily(version);
  const shapeId = family === '100' ? 'CNI-RESULT-003' : family === '040' ? 'CNI-RESULT-017' : 'CNI-RESULT-020';
  if (!isObject(result)) {
    add(shapeId, 'the result is not a JSON object');
    return problems;
  }
  if (result['cniVersion'] !== version) add('CNI-RESULT-002', `cniVersion is ${JSON.stringify(result['cniVersion'] ?? null)}, the request said "${version}"`);
  dnsProblems(result['dns'], add);
  if (family === '020') legacyProblems(result, add, placement);
  else currentProblems(result, family, add, placement);
  return problems;
}

function currentProblems(result: JsonObject, family: '040' | '100', add: (id: string, problem: string) => void, placement?: Placement): void {
  const shapeId = family === '100' ? 'CNI-RESULT-003' : 'CNI-RESULT-017';
  const allowed = ['cniVersion', 'interfaces', 'ips', 'routes', 'dns'];
  for (const key of Object.keys(result)) if (!allowed.includes(key)) add(shapeId, `top-level key "${key}" is not one of ${allowed.join(', ')}`);
  for (const key of ['interfaces', 'ips', 'routes'] as const) {
    if (result[key] !== undefined && !Array.isArray(result[key])) add(shapeId, `"${key}" is not an array`);
  }
  const interfaces = Array.isArray(result['interfaces']) ? (result['interfaces'] as unknown[]) : [];
  const ips = Array.isArray(result['ips']) ? (result['ips'] as unknown[]) : [];
  const routes = Array.isArray(result['routes']) ? (result['routes'] as unknown[]) : [];

  interfaces.forEach((entry, index) => {
    const where = `interfaces[${index}]`;
    if (!isObject(entry)) {
      add(shapeId, `${where} is not an object`);
      return;
    }
    if (typeof entry['name'] !== 'string' || entry['name'] === '') add('CNI-RESULT-005', `${where} has no name`);
    if (entry['mac'] !== undefined && !isHardwareAddress(entry['mac'])) add('CNI-RESULT-006', `${where}.mac ${JSON.stringify(entry['mac'])} is not a hardware address`);
    if (entry['mtu'] !== undefined && !isUnsigned(entry['mtu'])) add('CNI-RESULT-006', `${where}.mtu ${JSON.stringify(entry['mtu'])} is not a non-negative integer`);
    if (entry['sandbox'] !== undefined && typeof entry['sandbox'] !== 'string') add('CNI-RESULT-007', `${where}.sandbox is not a string`);
    if (entry['socketPath'] !== undefined && !(typeof entry['socketPath'] === 'string' && path.isAbsolute(entry['socketPath']))) {
      add('CNI-RESULT-009', `${where}.socketPath ${JSON.stringify(entry['socketPath'])} is not an absolute path`);
    }
    if (entry['pciID'] !== undefined && typeof entry['pciID'] !== 'string') add('CNI-RESULT-009', `${where}.pciID is not a string`);
    if (family === '040') {
      const extra = Object.keys(entry).filter((key) => !['name', 'mac', 'sandbox'].includes(key));
      if (extra.length > 0) add('CNI-RESULT-018', `${where} carries ${extra.join(', ')}, which 0.3.x/0.4.0 interfaces do not have`);
    }
    if (placement !== undefined && typeof entry['name'] === 'string') placementProblems(entry, where, placement, add);
  });

  ips.forEach((entry, index) => {
    const where = `ips[${index}]`;
    if (!isObject(entry)) {
      add(shapeId, `${where} is not an object`);
      return;
    }
    const addressFamily = cidrFamily(entry['address']);
    if (addressFamily === undefined) add('CNI-RESULT-010', `${where}.address ${JSON.stringify(entry['address'] ?? null)} is not an address in CIDR notation`);
    if (entry['gateway'] !== undefined) {
      const gatewayFamily = ipFamily(entry['gateway']);
      if (gatewayFamily === undefined) add('CNI-RESULT-011', `${where}.gateway ${JSON.stringify(entry['gateway'])} is not a plain address`);
      else if (addressFamily !== undefined && gatewayFamily !== addressFamily) add('CNI-RESULT-011', `${where}.gateway is IPv${gatewayFamily}, the address IPv${addressFamily}`);
    }
    if (entry['interface'] !== undefined) {
      const at = entry['interface'];
      if (!Number.isInteger(at) || (at as number) < 0 || (at as number) >= interfaces.length) {
        add('CNI-RESULT-012', `${where}.interface ${JSON.stringify(at)} is not an index into interfaces (length ${interfaces.length})`);
      }
    }
    if (family === '040') {
      const tag = entry['version'];
      if (tag !== '4' && tag !== '6') add('CNI-RESULT-017', `${where}.version ${JSON.stringify(tag ?? null)} is not "4" or "6"`);
      else if (addressFamily !== undefined && tag !== String(addressFamily)) add('CNI-RESULT-017', `${where}.version is "${tag}" for an IPv${addressFamily} address`);
    } else if (entry['version'] !== undefined) {
      add('CNI-RESULT-019', `${where} carries version ${JSON.stringify(entry['version'])}, which 1.x addresses do not have`);
    }
  });

  routes.forEach((entry, index) => routeProblems(entry, `routes[${index}]`, shapeId, add));

  if (placement !== undefined) {
    const listed = new Set(interfaces.filter(isObject).map((entry) => entry['name']));
    const missing = placement.created.filter((name) => !listed.has(name));
    if (missing.length > 0) add('CNI-RESULT-004', `interfaces does not list ${missing.join(', ')}, which the ADD created`);
  }
}

/** Whether an interface's `sandbox` matches where it really is. */
function placementProblems(entry: JsonObject, where: string, placement: Placement, add: (id: string, problem: string) => void): void {
  const name = entry['name'] as string;
  const inContainer = placement.containerLinks.includes(name);
  const onHost = placement.hostLinks.includes(name);
  const sandbox = typeof entry['sandbox'] === 'string' ? entry['sandbox'] : '';
  // A name seen in both namespaces, or in neither, says nothing about where this entry is.
  if (inContainer && !onHost) {
    if (sandbox === '') add('CNI-RESULT-007', `${where} (${name}) is inside the container but has no sandbox`);
    else if (sandbox !== placement.netns) add('CNI-RESULT-008', `${where} (${name}) has sandbox "${sandbox}", CNI_NETNS was "${placement.netns}"`);
  } else if (onHost && !inContainer && sandbox !== '') {
    add('CNI-RESULT-007', `${where} (${name}) is on the host but has sandbox "${sandbox}"`);
  }
}

function legacyProblems(result: JsonObject, add: (id: string, problem: string) => void, placement?: Placement): void {
  const allowed = ['cniVersion', 'ip4', 'ip6', 'dns'];
  for (const key of Object.keys(result)) if (!allowed.includes(key)) add('CNI-RESULT-020', `top-level key "${key}" is not one of ${allowed.join(', ')}`);
  if (result['ip4'] === undefined && result['ip6'] === undefined) add('CNI-RESULT-021', 'the result has neither ip4 nor ip6');
  for (const [key, wanted] of [['ip4', 4], ['ip6', 6]] as const) {
    const section = result[key];
    if (section === undefined) continue;
    if (!isObject(section)) {
      add('CNI-RESULT-020', `${key} is not an object`);
      continue;
    }
    if (cidrFamily(section['ip']) !== wanted) add('CNI-RESULT-020', `${key}.ip ${JSON.stringify(section['ip'] ?? null)} is not an IPv${wanted} address in CIDR notation`);
    if (section['gateway'] !== undefined && ipFamily(section['gateway']) !== wanted) {
      add('CNI-RESULT-020', `${key}.gateway ${JSON.stringify(section['gateway'])} is not a plain IPv${wanted} address`);
    }
    if (section['routes'] !== undefined) {
      if (!Array.isArray(section['routes'])) add('CNI-RESULT-020', `${key}.routes is not an array`);
      else {
        (section['routes'] as unknown[]).forEach((route, index) => {
          const where = `${key}.routes[${index}]`;
          routeProblems(route, where, 'CNI-RESULT-020', add, 'CNI-RESULT-020');
          if (!isObject(route)) return;
          const extra = Object.keys(route).filter((field) => field !== 'dst' && field !== 'gw');
          if (extra.length > 0) add('CNI-RESULT-023', `${where} keeps ${extra.join(', ')}; only dst and gw go down to ${String(result['cniVersion'])}`);
          const dstFamily = cidrFamily(route['dst']);
          if (dstFamily !== undefined && dstFamily !== wanted) add('CNI-RESULT-023', `${where} has an IPv${dstFamily} destination under ${key}`);
        });
      }
    }
    if (placement !== undefined && typeof section['ip'] === 'string') {
      const same = placement.containerAddresses.filter((address) => cidrFamily(address) === wanted);
      if (same.length > 0 && !same.includes(section['ip'])) {
        add('CNI-RESULT-022', `${key}.ip is ${section['ip']}, but ${placement.ifName} holds ${same.join(', ')}`);
      }
    }
  }
}

function routeProblems(entry: unknown, where: string, shapeId: string, add: (id: string, problem: string) => void, routeId = 'CNI-RESULT-014'): void {
  if (!isObject(entry)) {
    add(shapeId, `${where} is not an object`);
    return;
  }
  const dstFamily = cidrFamily(entry['dst']);
  if (dstFamily === undefined) add(routeId, `${where}.dst ${JSON.stringify(entry['dst'] ?? null)} is not in CIDR notation`);
  if (entry['gw'] !== undefined) {
    const gwFamily = ipFamily(entry['gw']);
    if (gwFamily === undefined) add(routeId, `${where}.gw ${JSON.stringify(entry['gw'])} is not a plain address`);
    else if (dstFamily !== undefined && gwFamily !== dstFamily) add(routeId, `${where}.gw is IPv${gwFamily} for an IPv${dstFamily} destination`);
  }
  for (const attribute of ['mtu', 'advmss', 'priority', 'table', 'scope']) {
    if (entry[attribute] !== undefined && !isUnsigned(entry[attribute])) {
      add('CNI-RESULT-015', `${where}.${attribute} ${JSON.stringify(entry[attribute])} is not a non-negative integer`);
    }
  }
}

function dnsProblems(dns: unknown, add: (id: string, problem: string) => void): void {
  if (dns === undefined) return;
  if (!isObject(dns)) {
    add('CNI-RESULT-016', 'dns is not an object');
    return;
  }
  const nameservers = dns['nameservers'];
  if (nameservers !== undefined && !(Array.isArray(nameservers) && nameservers.every((server) => ipFamily(server) !== undefined))) {
    add('CNI-RESULT-016', `dns.nameservers ${JSON.stringify(nameservers)} is not a list of addresses`);
  }
  if (dns['domain'] !== undefined && typeof dns['domain'] !== 'string') add('CNI-RESULT-016', 'dns.domain is not a string');
  for (const key of ['search', 'options']) {
    const list = dns[key];
    if (list !== undefined && !(Array.isArray(list) && list.every((item) => typeof item === 'string'))) add('CNI-RESULT-016', `dns.${key} is not a list of strings`);
  }
}

/**
 * Records one check per rule a result of `version` is judged by, each
 * passing when no problem of that rule was found. Returns the problems.
 */
export function checkResultShape(ctx: Ctx, result: unknown, options: { version: string; label: string; placement?: Placement }): Problem[] {
  const problems = resultProblems(result, options.version, options.placement);
  for (const id of resultRuleIds(options.version, options.placement !== undefined)) {
    const mine = problems.filter((problem) => problem.id === id).map((problem) => problem.problem);
    ctx.check(mine.length === 0, { ids: [id], what: `${options.label}: ${ruleSummaries[id] ?? id}`, expected: 'no problem', got: mine.length === 0 ? 'none' : mine });
  }
  return problems;
}

const ruleSummaries: Readonly<Record<string, string>> = {
  'CNI-RESULT-002': 'cniVersion is the request’s',
  'CNI-RESULT-003': 'the result has the 1.x shape',
  'CNI-RESULT-004': 'interfaces lists every interface the ADD created',
  'CNI-RESULT-005': 'every interface has a name',
  'CNI-RESULT-006': 'interface mac and mtu are well-formed',
  'CNI-RESULT-007': 'only container interfaces have a sandbox',
  'CNI-RESULT-008': 'a container interface’s sandbox is CNI_NETNS',
  'CNI-RESULT-009': 'socketPath is absolute, pciID a string',
  'CNI-RESULT-010': 'every ips address is in CIDR notation',
  'CNI-RESULT-011': 'every ips gateway is a plain address of the same family',
  'CNI-RESULT-012': 'every ips interface index points into interfaces',
  'CNI-RESULT-014': 'every route has a CIDR dst and a plain gw of its family',
  'CNI-RESULT-015': 'route attributes are non-negative integers',
  'CNI-RESULT-016': 'dns has the well-known shape',
  'CNI-RESULT-017': 'the result has the 0.3/0.4 shape, every address tagged with its family',
  'CNI-RESULT-018': 'interfaces carry only name, mac and sandbox',
  'CNI-RESULT-019': 'no address carries version',
  'CNI-RESULT-020': 'the result has the ip4/ip6 shape',
  'CNI-RESULT-021': 'the result reports at least one address',
  'CNI-RESULT-022': 'ip4/ip6 hold the address the interface has',
  'CNI-RESULT-023': 'routes sit under their family with only dst and gw',
};

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isUnsigned(value: unknown): boolean {
  return Number.isInteger(value) && (value as number) >= 0;
}

/** Colon-separated pairs of hex digits: six for Ethernet, up to twenty (InfiniBand). */
function isHardwareAddress(value: unknown): boolean {
  return typeof value === 'string' && /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5,19}$/.test(value);
}

function ipFamily(value: unknown): 4 | 6 | undefined {
  if (typeof value !== 'string') return undefined;
  const family = net.isIP(value);
  return family === 4 || family === 6 ? family : undefined;
}

function cidrFamily(value: unknown): 4 | 6 | undefined {
  if (typeof value !== 'string') return undefined;
  const at = value.indexOf('/');
  if (at < 0) return undefined;
  const family = ipFamily(value.slice(0, at));
  const prefix = value.slice(at + 1);
  if (family === undefined || !/^\d{1,3}$/.test(prefix) || Number(prefix) > (family === 4 ? 32 : 128)) return undefined;
  return family;
}
