/**
 * The kubelet's disruption endpoints, shaped as the API server serves them
 * (kubeplug additions on the read-only port and socket):
 * - `GET /poddisruptionbudgets`: a policy/v1 PodDisruptionBudgetList with
 *   status computed now;
 * - `POST /api/v1/namespaces/{ns}/pods/{name}/eviction` with a policy/v1
 *   Eviction: 201 Success when allowed (apiserver's create handler answers
 *   201 for the Status the eviction REST returns: staging/src/k8s.io/apiserver
 *   /pkg/endpoints/handlers/create.go), 429 TooManyRequests naming the budget,
 *   500 when several budgets select the pod, 404, or 400 naming the field
 *   (kubernetes/kubernetes master, rules unchanged since v1.27: pkg/registry/core/pod/storage/eviction.go);
 * - `GET /api/v1/nodes`, `GET|PATCH /api/v1/nodes/{node}`: this node and
 *   its spec.unschedulable (cordon), patched with a merge patch.
 */
import type http from 'node:http';
import type { Eviction, Node, NodeList, PodDisruptionBudgetList } from '../api/disruption-types.js';
import type { DisruptionService } from '../disruption/disruption-service.js';
import { apiErrors, ApiStatusError, failureStatus, sendApiJson, sendStatus, successStatus } from './api-status.js';

/** Upstream's texts (eviction.go). */
export const evictionMessages = {
  refused: "Cannot evict pod as it would violate the pod's disruption budget.",
  multipleBudgets: 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.',
  cause: (budget: string, desired: number, current: number): string => `The disruption budget ${budget} needs ${desired} healthy pods and has ${current} currently`,
} as const;

/** The StatusCause type of a budget refusal (policy/v1 DisruptionBudgetCause). */
export const disruptionBudgetCause = 'DisruptionBudget';

const maxBodyBytes = 1 << 20;
const patchTypes = ['application/merge-patch+json', 'application/strategic-merge-patch+json'] as const;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

async function readBody(request: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBodyBytes) throw apiErrors.badRequest(`body: larger than ${maxBodyBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function readJsonBody(request: http.IncomingMessage): Promise<unknown> {
  const text = await readBody(request);
  if (text.trim() === '') throw apiErrors.badRequest('body: Required value: a JSON object');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw apiErrors.badRequest(`body: not JSON: ${(error as Error).message}`);
  }
}

/** Checks an Eviction body against the URL; errors name the field. */
export function parseEviction(body: unknown, namespace: string, name: string): { gracePeriodSeconds?: number } {
  const bad = (field: string, detail: string): ApiStatusError => apiErrors.badRequest(`${field}: ${detail}`, [{ reason: 'FieldValueInvalid', field, message: detail }]);
  if (!isObject(body)) throw bad('body', 'must be a policy/v1 Eviction object');
  const eviction = body as unknown as Eviction;
  if (body.kind !== undefined && body.kind !== 'Eviction') throw bad('kind', `Unsupported value: ${JSON.stringify(body.kind)}: supported values: "Eviction"`);
  if (body.apiVersion !== undefined && body.apiVersion !== 'policy/v1' && body.apiVersion !== 'policy/v1beta1') throw bad('apiVersion', `Unsupported value: ${JSON.stringify(body.apiVersion)}: supported values: "policy/v1", "policy/v1beta1"`);
  if (!isObject(body.metadata)) throw bad('metadata', 'Required value');
  if (typeof eviction.metadata.name !== 'string' || eviction.metadata.name === '') throw bad('metadata.name', 'Required value');
  if (eviction.metadata.name !== name) throw bad('metadata.name', 'name in URL does not match name in Eviction object');
  const bodyNamespace = eviction.metadata.namespace;
  if (bodyNamespace !== undefined && bodyNamespace !== '' && bodyNamespace !== namespace) throw bad('metadata.namespace', 'the namespace of the provided object does not match the namespace sent on the request');
  const options = body.deleteOptions;
  if (options === undefined || options === null) return {};
  if (!isObject(options)) throw bad('deleteOptions', 'must be an object');
  const grace = options.gracePeriodSeconds;
  if (grace === undefined || grace === null) return {};
  if (typeof grace !== 'number' || !Number.isSafeInteger(grace) || grace < 0) throw bad('deleteOptions.gracePeriodSeconds', `Invalid value: ${JSON.stringify(grace)}: must be a whole number of seconds, 0 or more`);
  return { gracePeriodSeconds: grace };
}

function nodeOf(service: DisruptionService): Node {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name: service.nodeName }, spec: { unschedulable: service.unschedulable } };
}

/** Reads the cordon out of a merge patch of a Node; errors name the field. */
export function parseNodePatch(body: unknown): { unschedulable?: boolean } {
  if (!isObject(body)) throw apiErrors.badRequest('body: must be a JSON object (a merge patch of a Node)');
  if (body.spec === undefined) return {};
  if (body.spec === null) return { unschedulable: false };
  if (!isObject(body.spec)) throw apiErrors.badRequest(`spec: Invalid value: ${JSON.stringify(body.spec)}: must be an object`);
  const value = body.spec.unschedulable;
  if (value === undefined) return {};
  if (value === null) return { unschedulable: false };
  if (typeof value !== 'boolean') throw apiErrors.badRequest(`spec.unschedulable: Invalid value: ${JSON.stringify(value)}: must be true or false`);
  return { unschedulable: value };
}

const evictionPath = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/eviction$/;
const nodePath = /^\/api\/v1\/nodes\/([^/]+)$/;

/** Whether `route` is one of these endpoints. */
export function isDisruptionRoute(route: string): boolean {
  return route === '/poddisruptionbudgets' || route === '/api/v1/nodes' || evictionPath.test(route) || nodePath.test(route);
}

async function serve(request: http.IncomingMessage, response: http.ServerResponse, route: string, service: DisruptionService): Promise<void> {
  const method = request.method ?? 'GET';
  if (route === '/poddisruptionbudgets') {
    if (method !== 'GET') throw apiErrors.methodNotSupported('poddisruptionbudgets', method);
    const list: PodDisruptionBudgetList = { apiVersion: 'policy/v1', kind: 'PodDisruptionBudgetList', metadata: {}, items: await service.listBudgets() };
    sendApiJson(response, 200, list);
    return;
  }
  if (route === '/api/v1/nodes') {
    if (method !== 'GET') throw apiErrors.methodNotSupported('nodes', method);
    const list: NodeList = { apiVersion: 'v1', kind: 'NodeList', metadata: {}, items: [nodeOf(service)] };
    sendApiJson(response, 200, list);
    return;
  }
  const node = nodePath.exec(route);
  if (node !== null) {
    const name = decodeURIComponent(node[1]!);
    if (method !== 'GET' && method !== 'PATCH') throw apiErrors.methodNotSupported('nodes', method);
    if (name !== service.nodeName) throw apiErrors.notFound('nodes', name);
    if (method === 'PATCH') {
      const contentType = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (!(patchTypes as readonly string[]).includes(contentType)) throw apiErrors.unsupportedMediaType(contentType, patchTypes);
      const patch = parseNodePatch(await readJsonBody(request));
      if (patch.unschedulable !== undefined) await service.setUnschedulable(patch.unschedulable);
    }
    sendApiJson(response, 200, nodeOf(service));
    return;
  }
  const eviction = evictionPath.exec(route);
  if (eviction === null) throw apiErrors.notFound('resource', route);
  const namespace = decodeURIComponent(eviction[1]!);
  const name = decodeURIComponent(eviction[2]!);
  if (method !== 'POST') throw apiErrors.methodNotSupported('pods/eviction', method);
  const { gracePeriodSeconds } = parseEviction(await readJsonBody(request), namespace, name);
  const outcome = await service.evict(namespace, name, gracePeriodSeconds);
  switch (outcome.outcome) {
    case 'evicted':
      sendApiJson(response, 201, successStatus(201));
      return;
    case 'not-found':
      throw apiErrors.notFound('pods', name);
    case 'refused':
      sendApiJson(
        response,
        429,
        failureStatus(429, evictionMessages.refused, 'TooManyRequests', {
          causes: [{ reason: disruptionBudgetCause, message: evictionMessages.cause(outcome.budget, outcome.desiredHealthy, outcome.currentHealthy) }],
        }),
      );
      return;
    case 'multiple-budgets':
      // Upstream sets no reason on this Status.
      sendApiJson(response, 500, failureStatus(500, evictionMessages.multipleBudgets));
      return;
  }
}

/** Serves one request on a disruption route; every failure is answered as a Status. */
export function handleDisruptionRoute(request: http.IncomingMessage, response: http.ServerResponse, route: string, service: DisruptionService): void {
  serve(request, response, route, service).catch((error: unknown) => {
    if (!response.headersSent) sendStatus(response, error);
    else response.destroy();
  });
}
