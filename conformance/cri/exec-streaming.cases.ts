import { setTimeout as sleep } from 'node:timers/promises';
import type { CaseContext, Suite } from '../framework/index.js';
import { callRuntime } from './cri-calls.js';
import type { CriSubject } from './cri-subject.js';
import { notApplicableWhenUnimplemented, requireOk } from './expect-status.js';
import { channelProtocol, openChannelSocket, readChannels } from './exec-websocket.js';
import { execSync, podWithContainer } from './pod-fixtures.js';

type Ctx = CaseContext<CriSubject>;

/** Exec channels of the v4 protocol. */
const execChannel = { stdout: 1, stderr: 2, status: 3 } as const;

/** Port-forward channels: data, then errors. */
const portForwardChannel = { data: 0, error: 1 } as const;

/** The exit code a v4 status message reports: 0 for Success, the ExitCode cause for a failure. */
function exitCodeOf(status: string): number | undefined {
  try {
    const parsed = JSON.parse(status) as { status?: string; details?: { causes?: { reason?: string; message?: string }[] } };
    if (parsed.status === 'Success') return 0;
    const cause = parsed.details?.causes?.find((candidate) => candidate.reason === 'ExitCode');
    return cause?.message === undefined ? undefined : Number(cause.message);
  } catch {
    return undefined;
  }
}

/** Error messages that say the streaming server was never reached. */
const unreachable = /ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|no upgrade within/;

/**
 * Opens the channel WebSocket on a URL the runtime returned; when nothing
 * answers there (a runtime in its own network namespace serves on its own
 * loopback, where the kubelet would be), the case is skipped, naming the URL.
 */
async function openStreamingUrl(ctx: Ctx, url: string): Promise<Awaited<ReturnType<typeof openChannelSocket>>> {
  const opened = await openChannelSocket(url, 10_000).catch((error: unknown) => error as Error);
  if (opened instanceof Error && unreachable.test(opened.message)) {
    ctx.skip(`the suite cannot reach the streaming server at ${url} (${opened.message}); run the suite where the kubelet would run, in the runtime's network namespace`);
  }
  ctx.require(!(opened instanceof Error), {
    what: `the URL accepts a WebSocket with protocol ${channelProtocol}`,
    expected: '101 Switching Protocols',
    got: opened instanceof Error ? opened.message : 'upgraded',
  });
  return opened;
}

/** Declares the cases that follow streaming URLs (specs/cri/SPEC.md, CRI-EXEC-012 and 015). */
export function declareExecStreamingCases(suite: Suite<CriSubject>): void {
  suite.declare({
    ids: ['CRI-EXEC-012'],
    title: "Following Exec's URL runs the command and streams its output and exit status",
    async run(ctx: Ctx) {
      const container = await podWithContainer(ctx);
      const answer = await callRuntime(ctx, 'exec', {
        containerId: container.id,
        cmd: ['sh', '-c', 'echo streamed-out; echo streamed-err >&2; exit 4'],
        tty: false,
        stdin: false,
        stdout: true,
        stderr: true,
      });
      notApplicableWhenUnimplemented(ctx, answer, 'Exec');
      requireOk(ctx, answer, { what: 'Exec succeeds' });
      const opened = await openStreamingUrl(ctx, answer.response.url);
      const session = await readChannels(opened, 15_000);
      const text = (channel: number): string => session.channels.get(channel)?.toString('utf8') ?? '';
      ctx.note(`session ended: ${session.ended}; channels ${[...session.channels.keys()].join(', ')}`);
      ctx.check(text(execChannel.stdout) === 'streamed-out\n', { what: 'the stdout channel carries what the command wrote to standard output', expected: 'streamed-out\\n', got: text(execChannel.stdout) });
      ctx.check(text(execChannel.stderr) === 'streamed-err\n', { what: 'the stderr channel carries what the command wrote to standard error', expected: 'streamed-err\\n', got: text(execChannel.stderr) });
      ctx.check(exitCodeOf(text(execChannel.status)) === 4, { what: 'the status channel reports exit code 4', expected: 'ExitCode 4', got: text(execChannel.status) });
    },
  });

  suite.declare({
    ids: ['CRI-EXEC-015'],
    title: "Following PortForward's URL reaches the port in the sandbox",
    async run(ctx: Ctx) {
      const port = 8080;
      const container = await podWithContainer(ctx, {
        container: { command: ['sh', '-c', `trap 'exit 0' TERM; while :; do echo pf-reached | nc -l -p ${port}; done`] },
      });
      let listening = false;
      for (let attempt = 0; attempt < 25 && !listening; attempt += 1) {
        listening = (await execSync(ctx, container.id, ['sh', '-c', `netstat -ltn | grep -q ':${port} '`])).exitCode === 0;
        if (!listening) await sleep(200);
      }
      ctx.require(listening, { what: `the container listens on port ${port}`, expected: 'listening', got: 'not listening after 5 s' });
      const answer = await callRuntime(ctx, 'portForward', { podSandboxId: container.pod.id, port: [port] });
      notApplicableWhenUnimplemented(ctx, answer, 'PortForward');
      requireOk(ctx, answer, { what: 'PortForward succeeds' });
      const opened = await openStreamingUrl(ctx, answer.response.url);
      let received = Buffer.alloc(0);
      const session = await readChannels(opened, 10_000, (channel, data, socket) => {
        if (channel !== portForwardChannel.data) return;
        received = Buffer.concat([received, data]);
        if (received.includes('pf-reached')) socket.destroy();
      });
      const data = session.channels.get(portForwardChannel.data) ?? Buffer.alloc(0);
      const errors = session.channels.get(portForwardChannel.error)?.subarray(2).toString('utf8') ?? '';
      // Each channel's first message opens with the port, two bytes little-endian.
      ctx.check(data.length >= 2 && data.readUInt16LE(0) === port, { what: 'the data channel opens with the forwarded port', expected: port, got: data.length >= 2 ? data.readUInt16LE(0) : 'no data' });
      ctx.check(data.subarray(2).toString('utf8').includes('pf-reached'), {
        what: "the data channel carries what the container's listener sent",
        expected: 'pf-reached',
        got: { data: data.subarray(2).toString('utf8'), errors, ended: session.ended },
      });
    },
  });
}
