import fs from 'node:fs/promises';
import path from 'node:path';
import type { ContainerStats, NetworkInterfaceUsage, PodSandboxStats } from '../../../specs/cri/index.js';
import { readCgroupProcessCount, readCgroupStats, type CgroupStats } from '../oci/cgroups.js';
import { nowNs } from './ids.js';
import { podInterfaceName } from './pod-network.js';
import { containerPaths } from './root-layout.js';
import type { RuntimeContext } from './runtime-context.js';
import type { ContainerEntry, SandboxEntry } from './runtime-state.js';

/** Bytes and inodes a folder tree uses (the writable layer of a container). Files that vanish meanwhile are skipped. */
export async function folderUsage(dir: string): Promise<{ bytes: bigint; inodes: bigint }> {
  let bytes = 0n;
  let inodes = 0n;
  const pending = [dir];
  while (pending.length > 0) {
    const current = pending.pop()!;
    let entries;
    try {
      entries = await fs.readdir(current, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      const full = path.join(current, entry.name);
      inodes += 1n;
      if (entry.isDirectory()) {
        pending.push(full);
        continue;
      }
      try {
        bytes += BigInt((await fs.lstat(full)).blocks) * 512n;
      } catch {
        // Gone since the listing.
      }
    }
  }
  return { bytes, inodes };
}

function uint(value: bigint | undefined): { value: bigint } | undefined {
  return value === undefined ? undefined : { value };
}

/** CPU and memory of a cgroup sample in the CRI's shapes. */
function cgroupUsage(stats: CgroupStats | undefined, timestamp: bigint, limit: bigint | undefined) {
  return {
    cpu: { timestamp, usageCoreNanoSeconds: uint(stats?.cpuUsageNs ?? 0n), usageNanoCores: undefined, psi: undefined },
    memory: {
      timestamp,
      workingSetBytes: uint(stats?.workingSetBytes ?? 0n),
      availableBytes: limit !== undefined && limit > 0n && stats !== undefined ? uint(limit > stats.workingSetBytes ? limit - stats.workingSetBytes : 0n) : undefined,
      usageBytes: uint(stats?.memoryUsageBytes ?? 0n),
      rssBytes: uint(stats?.rssBytes ?? 0n),
      pageFaults: uint(stats?.pageFaults ?? 0n),
      majorPageFaults: uint(stats?.majorPageFaults ?? 0n),
      psi: undefined,
    },
  };
}

/** A container's stats: cgroup CPU and memory, and the usage of its writable layer (the overlay's upper folder). */
export async function containerStatsOf(ctx: RuntimeContext, entry: ContainerEntry): Promise<ContainerStats> {
  const timestamp = nowNs();
  const { record } = entry;
  const [cgroup, layer] = await Promise.all([
    readCgroupStats(record.cgroupsPath, entry.pid === undefined ? {} : { pid: entry.pid }).catch(() => undefined),
    folderUsage(containerPaths(ctx.layout, record.id).upper),
  ]);
  const usage = cgroupUsage(cgroup, timestamp, record.resources?.memoryLimitInBytes);
  return {
    attributes: { id: record.id, metadata: record.config.metadata, labels: record.config.labels, annotations: record.config.annotations },
    cpu: usage.cpu,
    memory: usage.memory,
    writableLayer: { timestamp, fsId: { mountpoint: ctx.layout.containersDir }, usedBytes: uint(layer.bytes), inodesUsed: uint(layer.inodes) },
    swap: undefined,
    io: undefined,
  };
}

/** Byte and error counters of the pod's interfaces, read from the pause process's view of /proc/net/dev. */
export async function podNetworkUsage(pausePid: number | undefined): Promise<NetworkInterfaceUsage[]> {
  if (pausePid === undefined) return [];
  let text: string;
  try {
    text = await fs.readFile(`/proc/${pausePid}/net/dev`, 'utf8');
  } catch {
    return [];
  }
  const usages: NetworkInterfaceUsage[] = [];
  for (const line of text.split('\n').slice(2)) {
    const [name, counters] = line.split(':');
    if (name === undefined || counters === undefined) continue;
    const values = counters.trim().split(/\s+/).map((v) => BigInt(v));
    const trimmed = name.trim();
    if (trimmed === 'lo') continue;
    usages.push({
      name: trimmed,
      rxBytes: uint(values[0]),
      rxErrors: uint(values[2]),
      txBytes: uint(values[8]),
      txErrors: uint(values[10]),
    });
  }
  return usages;
}

/** A sandbox's stats: the pod cgroup (pause and every container), its network, and each container's stats. */
export async function sandboxStatsOf(ctx: RuntimeContext, entry: SandboxEntry): Promise<PodSandboxStats> {
  const timestamp = nowNs();
  const { record } = entry;
  const [cgroup, interfaces, containers, processCount] = await Promise.all([
    readCgroupStats(record.podCgroup).catch(() => undefined),
    record.hostNetwork ? Promise.resolve([]) : podNetworkUsage(entry.pausePid),
    Promise.all(ctx.state.containersOf(record.id).map((c) => containerStatsOf(ctx, c))),
    readCgroupProcessCount(record.podCgroup).catch(() => undefined),
  ]);
  const usage = cgroupUsage(cgroup, timestamp, undefined);
  const primary = interfaces.find((i) => i.name === podInterfaceName) ?? interfaces[0];
  return {
    attributes: { id: record.id, metadata: record.config.metadata, labels: record.config.labels, annotations: record.config.annotations },
    linux: {
      cpu: usage.cpu,
      memory: usage.memory,
      network: primary === undefined ? undefined : { timestamp, defaultInterface: primary, interfaces },
      process: processCount === undefined ? undefined : { timestamp, processCount: { value: BigInt(processCount) } },
      containers,
      io: undefined,
    },
    windows: undefined,
  };
}
