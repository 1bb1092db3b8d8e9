import type { ChannelConnection } from './channel-connection.js';
import { pumpToChannel } from './channel-pump.js';
import { connectPort, type PortConnection, type PortRelayCommand } from './port-connection.js';

/**
 * Runs one port-forward session: each port gets a data channel (2i) and an
 * error channel (2i+1), both opened with the port in two little-endian
 * bytes; the port is connected at once, bytes flow both ways on the data
 * channel, a failure is written as text on the error channel. The session
 * closes when every port's connection has ended.
 * @see kubernetes/kubernetes staging/src/k8s.io/kubelet/pkg/cri/streaming/portforward/websocket.go (v1.30)
 */
export async function servePortForward(
  channels: ChannelConnection,
  o: { sandboxId: string; netnsPath: string | undefined; ports: readonly number[]; relay?: PortRelayCommand },
): Promise<void> {
  const connections: (PortConnection | undefined)[] = o.ports.map(() => undefined);
  let clientGone = false;
  channels.listen({
    onData(channel, data) {
      // Odd channels are error channels: the server writes them, the client does not.
      if (channel % 2 === 0) connections[channel / 2]?.write(data);
    },
    onChannelClosed: () => undefined,
    onClosed() {
      clientGone = true;
      for (const connection of connections) connection?.destroy();
    },
  });
  const sessions = o.ports.map(async (port, index) => {
    const portBytes = Buffer.alloc(2);
    portBytes.writeUInt16LE(port, 0);
    channels.write(2 * index, portBytes);
    channels.write(2 * index + 1, portBytes);
    let connection: PortConnection;
    try {
      connection = connectPort({ netnsPath: o.netnsPath, port, ...(o.relay === undefined ? {} : { relay: o.relay }) });
    } catch (error) {
      channels.write(2 * index + 1, Buffer.from(forwardError(port, o.sandboxId, error instanceof Error ? error.message : String(error)), 'utf8'));
      return;
    }
    connections[index] = connection;
    if (clientGone) connection.destroy();
    const [failure] = await Promise.all([connection.closed, pumpToChannel(connection.output, channels, 2 * index)]);
    if (failure !== undefined && !clientGone) channels.write(2 * index + 1, Buffer.from(forwardError(port, o.sandboxId, failure), 'utf8'));
  });
  await Promise.all(sessions);
  if (!clientGone) channels.close();
}

// The kubelet's wording; the pod is the sandbox ID, and the UID is empty, in the CRI streaming server.
function forwardError(port: number, sandboxId: string, message: string): string {
  return `error forwarding port ${port} to pod ${sandboxId}, uid : ${message}`;
}
