/**
 * A replicated app for the simulated cluster and the traffic that proves
 * the network model across nodes: each pod serves HTTP, answering a CGI
 * request with its own name and the source address it saw, so one request
 * from a pod on one node to a pod on another shows who answered and
 * whether the client's pod IP arrived unchanged (no NAT).
 */
import type { Pod } from '../../kubelet/api/pod-types.js';
import type { ClusterNode, KubeletCluster } from './kubelet-cluster.js';

/** The port app pods serve on. */
export const appPort = 8080;

/** What an app pod is made of. */
export interface AppPodOptions {
  /** metadata.name in the manifest (the kubelet serves it as `<name>-<node>`). Lowercase letters, digits and dashes. */
  readonly name: string;
  /** The cluster's busybox image (it links httpd and nc). */
  readonly image: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Seconds the kubelet waits after SIGTERM; 2 when unset, so evictions and removals are quick. */
  readonly terminationGracePeriodSeconds?: number;
}

/**
 * A static pod running busybox httpd on {@link appPort} with a CGI at
 * /cgi-bin/who printing `<name> <REMOTE_ADDR>`, Ready once an HTTP
 * readiness probe from its node gets an answer.
 */
export function appPod(options: AppPodOptions): Pod {
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(options.name)) throw new Error(`app pod name ${JSON.stringify(options.name)} is not a DNS label`);
  const cgi = ['#!/bin/sh', 'echo Content-Type: text/plain', 'echo', `echo "${options.name} $REMOTE_ADDR"`].map((line) => `'${line}'`).join(' ');
  const script =
    `mkdir -p /tmp/www/cgi-bin && echo ok > /tmp/www/index.html && printf '%s\\n' ${cgi} > /tmp/www/cgi-bin/who && ` +
    `chmod +x /tmp/www/cgi-bin/who && exec httpd -f -p ${appPort} -h /tmp/www`;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: options.name, namespace: 'default', labels: { ...options.labels } },
    spec: {
      terminationGracePeriodSeconds: options.terminationGracePeriodSeconds ?? 2,
      containers: [
        {
          name: 'app',
          image: options.image,
          imagePullPolicy: 'IfNotPresent',
          command: ['sh', '-c', script],
          readinessProbe: { httpGet: { path: '/index.html', port: appPort }, periodSeconds: 1, failureThreshold: 1 },
        },
      ],
    },
  };
}

/** An app pod placed on a node, with the IP its node gave it. */
export interface PlacedPod {
  readonly node: ClusterNode;
  /** The manifest's name. */
  readonly name: string;
  readonly ip: string;
}

/** One request from a pod to another pod's IP. */
export interface Reach {
  /** `node-a/web-0 → node-b/web-1 (10.244.1.2)`. */
  readonly path: string;
  /** Answered by the intended pod, which saw the client's own pod IP as the source. */
  readonly ok: boolean;
  readonly answeredBy?: string;
  readonly sourceSeen?: string;
  /** What went wrong when not ok. */
  readonly detail?: string;
}

/** Where a pod is, for messages. */
function placed(pod: PlacedPod): string {
  return `${pod.node.name}/${pod.name}`;
}

/** From inside `from`'s container, GET /cgi-bin/who of `to` (through nc: Debian's static busybox wget crashes). */
export async function reach(from: PlacedPod, to: PlacedPod): Promise<Reach> {
  const pathText = `${placed(from)} → ${placed(to)} (${to.ip})`;
  const request = `printf 'GET /cgi-bin/who HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${to.ip} ${appPort}`;
  let answer: { exitCode: number; stdout: string; stderr: string };
  try {
    answer = await from.node.kubelet.exec(from.name, 'app', ['sh', '-c', request]);
  } catch (error) {
    return { path: pathText, ok: false, detail: `exec failed: ${(error as Error).message}` };
  }
  const last = answer.stdout.trim().split('\n').at(-1)?.trim() ?? '';
  const [answeredBy, seen] = last.split(' ');
  // httpd listens dual-stack, so an IPv4 client shows as [::ffff:a.b.c.d].
  const sourceSeen = seen?.replace(/^\[(?:::ffff:)?(.*)\]$/i, '$1');
  const ok = answer.exitCode === 0 && answeredBy === to.name && sourceSeen === from.ip;
  return {
    path: pathText,
    ok,
    ...(answeredBy === undefined || answeredBy === '' ? {} : { answeredBy }),
    ...(sourceSeen === undefined ? {} : { sourceSeen }),
    ...(ok ? {} : { detail: `exit ${answer.exitCode}, stdout ${JSON.stringify(answer.stdout.slice(-300))}, stderr ${JSON.stringify(answer.stderr.slice(-300))}` }),
  };
}

/** Every pod reaches every pod on another node, one request each, one after another. */
export async function reachAcrossNodes(pods: readonly PlacedPod[]): Promise<Reach[]> {
  const outcomes: Reach[] = [];
  for (const from of pods) {
    for (const to of pods) if (to.node !== from.node) outcomes.push(await reach(from, to));
  }
  return outcomes;
}

/** Every pod of every node with the node it is on, as each kubelet's /pods shows it now. */
export async function clusterPods(cluster: KubeletCluster): Promise<{ node: ClusterNode; pod: Pod }[]> {
  const lists = await Promise.all(cluster.nodes.map(async (node) => (await node.kubelet.pods()).items.map((pod) => ({ node, pod }))));
  return lists.flat();
}

/**
 * Pod IPs given to more than one pod that still holds it (not terminal):
 * `ip: pod, pod` for each, empty when every IP is unique in the cluster.
 */
export function sharedPodIps(pods: readonly { node: ClusterNode; pod: Pod }[]): string[] {
  const holders = new Map<string, string[]>();
  for (const { node, pod } of pods) {
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') continue;
    for (const ip of pod.status?.podIPs?.map((entry) => entry.ip) ?? (pod.status?.podIP === undefined ? [] : [pod.status.podIP])) {
      holders.set(ip, [...(holders.get(ip) ?? []), `${node.name}/${pod.metadata.name}`]);
    }
  }
  return [...holders].filter(([, names]) => names.length > 1).map(([ip, names]) => `${ip}: ${names.join(', ')}`);
}
