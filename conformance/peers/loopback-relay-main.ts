// Runs inside a node's network namespace: accepts TCP connections on the
// node's loopback at HOST:PORT and carries each to a unix socket, whose
// other end (outside the namespace) reaches the machine's HOST:PORT. Usage:
// `node loopback-relay-main.js HOST:PORT SOCKET`; prints "ready" once listening.
import net from 'node:net';
import { pipeConnections, splitHostPort } from './relay-pipe.js';

const [listen, socketPath] = process.argv.slice(2);
if (listen === undefined || socketPath === undefined) {
  process.stderr.write('usage: loopback-relay-main HOST:PORT SOCKET\n');
  process.exit(2);
}
const { host, port } = splitHostPort(listen);
const server = net.createServer((inbound) => pipeConnections(inbound, net.connect(socketPath)));
server.on('error', (error) => {
  process.stderr.write(`loopback relay: ${error.message}\n`);
  process.exit(1);
});
server.listen(port, host, () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => process.exit(0));
