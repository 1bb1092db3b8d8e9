import { MetricType, type Metric, type MetricDescriptor, type PodSandboxMetrics } from '../../../specs/cri/index.js';
import type { RuntimeContext } from './runtime-context.js';
import type { SandboxEntry } from './runtime-state.js';
import { containerStatsOf, podNetworkUsage } from './stats.js';

/**
 * The metrics ListPodSandboxMetrics reports, named as cAdvisor names them
 * where the value is a whole number; CPU time is in nanoseconds since
 * Metric.value holds no fractions.
 */
export const metricDescriptors: readonly MetricDescriptor[] = [
  { name: 'container_cpu_usage_nanoseconds_total', help: 'Cumulative CPU time consumed, in nanoseconds.', labelKeys: ['container'] },
  { name: 'container_memory_usage_bytes', help: 'Current memory usage, including all memory regardless of when it was accessed.', labelKeys: ['container'] },
  { name: 'container_memory_working_set_bytes', help: 'Current working set, in bytes.', labelKeys: ['container'] },
  { name: 'container_memory_rss', help: 'Size of RSS, in bytes.', labelKeys: ['container'] },
  { name: 'container_fs_usage_bytes', help: 'Bytes used by the container\'s writable layer.', labelKeys: ['container'] },
  { name: 'container_network_receive_bytes_total', help: 'Cumulative count of bytes received.', labelKeys: ['interface'] },
  { name: 'container_network_transmit_bytes_total', help: 'Cumulative count of bytes transmitted.', labelKeys: ['interface'] },
  { name: 'container_network_receive_errors_total', help: 'Cumulative count of errors encountered while receiving.', labelKeys: ['interface'] },
  { name: 'container_network_transmit_errors_total', help: 'Cumulative count of errors encountered while transmitting.', labelKeys: ['interface'] },
];

function metric(name: string, type: MetricType, labelValues: string[], value: bigint | undefined): Metric[] {
  return value === undefined ? [] : [{ name, timestamp: 0n, metricType: type, labelValues, value: { value } }];
}

/** One sandbox's metrics: network counters for the pod, CPU, memory and filesystem per container. */
export async function sandboxMetricsOf(ctx: RuntimeContext, entry: SandboxEntry): Promise<PodSandboxMetrics> {
  const interfaces = entry.record.hostNetwork ? [] : await podNetworkUsage(entry.pausePid);
  const metrics = interfaces.flatMap((i) => [
    ...metric('container_network_receive_bytes_total', MetricType.COUNTER, [i.name], i.rxBytes?.value),
    ...metric('container_network_transmit_bytes_total', MetricType.COUNTER, [i.name], i.txBytes?.value),
    ...metric('container_network_receive_errors_total', MetricType.COUNTER, [i.name], i.rxErrors?.value),
    ...metric('container_network_transmit_errors_total', MetricType.COUNTER, [i.name], i.txErrors?.value),
  ]);
  const containerMetrics = await Promise.all(
    ctx.state.containersOf(entry.record.id).map(async (container) => {
      const stats = await containerStatsOf(ctx, container);
      const name = [container.record.config.metadata?.name ?? ''];
      return {
        containerId: container.record.id,
        metrics: [
          ...metric('container_cpu_usage_nanoseconds_total', MetricType.COUNTER, name, stats.cpu?.usageCoreNanoSeconds?.value),
          ...metric('container_memory_usage_bytes', MetricType.GAUGE, name, stats.memory?.usageBytes?.value),
          ...metric('container_memory_working_set_bytes', MetricType.GAUGE, name, stats.memory?.workingSetBytes?.value),
          ...metric('container_memory_rss', MetricType.GAUGE, name, stats.memory?.rssBytes?.value),
          ...metric('container_fs_usage_bytes', MetricType.GAUGE, name, stats.writableLayer?.usedBytes?.value),
        ],
      };
    }),
  );
  return { podSandboxId: entry.record.id, metrics, containerMetrics };
}
