import t from 'tap';
import { spawnArgv, type SysctlWrite } from '../../../reference-plugins/host-local-bridge/bridge/command-launcher.js';
import { CommandError, CommandRunner, type CommandOutput, type RunOptions } from '../../../reference-plugins/host-local-bridge/bridge/command-runner.js';
import { IpCommandError, runIp } from '../../../reference-plugins/host-local-bridge/bridge/iproute.js';
import { RollbackStack, allSettledOrThrow } from '../../../reference-plugins/host-local-bridge/bridge/rollback-stack.js';

/** A runner that records what it would run and answers from a script instead of starting processes. */
class ScriptedRunner extends CommandRunner {
  readonly calls: { argv: readonly string[]; input: string | undefined; netns?: string; sysctls?: readonly SysctlWrite[] }[] = [];
  constructor(readonly answer: (argv: readonly string[]) => CommandOutput | CommandError = () => ({ stdout: '', stderr: '' })) {
    super();
  }
  override run(argv: readonly string[], options: RunOptions = {}): Promise<CommandOutput> {
    this.calls.push({ argv, input: options.input, ...(options.netns === undefined ? {} : { netns: options.netns }), ...(options.sysctls === undefined ? {} : { sysctls: options.sysctls }) });
    const answer = this.answer(argv);
    return answer instanceof CommandError ? Promise.reject(answer) : Promise.resolve(answer);
  }
}

t.test('several commands go to iproute2 as one batch process', async (t) => {
  const runner = new ScriptedRunner();
  await runIp(runner, [['link', 'set', 'dev', 'a', 'up'], ['link', 'set', 'dev', 'b', 'up']]);
  t.same(runner.calls, [{ argv: ['ip', '-batch', '-'], input: 'link set dev a up\nlink set dev b up\n' }]);
});

t.test('a group for a container namespace goes to the launcher with the namespace and its sysctls, once', async (t) => {
  const runner = new ScriptedRunner();
  const sysctls = [{ path: '/proc/sys/x', value: '1' }];
  await runIp(runner, [['link', 'set', 'dev', 'eth0', 'up'], ['link', 'show']], { netns: '/run/netns/pod', sysctls });
  t.same(runner.calls, [{ argv: ['ip', '-batch', '-'], input: 'link set dev eth0 up\nlink show\n', netns: '/run/netns/pod', sysctls }]);
});

t.test('as a child process, a command for another namespace runs through nsenter, sysctls written first by a shell', async (t) => {
  t.match(spawnArgv({ argv: ['ip', '-batch', '-'], netns: '/run/netns/pod', sysctls: [{ path: '/proc/sys/x', value: '1' }] }), ['nsenter', '--net=/run/netns/pod', '--', 'sh', '-c', String, 'sh', '/proc/sys/x', '1', '--', 'ip', '-batch', '-']);
  t.same(spawnArgv({ argv: ['ip', 'link', 'show'], netns: '/run/netns/pod' }), ['nsenter', '--net=/run/netns/pod', '--', 'ip', 'link', 'show']);
  t.same(spawnArgv({ argv: ['ip', 'link', 'show'] }), ['ip', 'link', 'show']);
});

t.test('names batch mode would mangle ("#", quotes, blanks) are run one command at a time', async (t) => {
  const runner = new ScriptedRunner();
  await runIp(runner, [['link', 'set', 'dev', 'we#ird', 'up'], ['link', 'set', 'dev', 'b', 'up']]);
  t.same(runner.calls.map((call) => call.argv), [['ip', 'link', 'set', 'dev', 'we#ird', 'up'], ['ip', 'link', 'set', 'dev', 'b', 'up']]);
});

t.test('a failed batch names the command that failed and iproute2\'s reason', async (t) => {
  const runner = new ScriptedRunner((argv) => new CommandError({ argv, exitCode: 1, stdout: '', stderr: 'RTNETLINK answers: File exists\nCommand failed -:2\n' }));
  const lines = [['link', 'set', 'dev', 'a', 'up'], ['link', 'add', 'b', 'type', 'bridge']];
  const error = await runIp(runner, lines).catch((thrown: unknown) => thrown);
  t.type(error, IpCommandError);
  t.match(error, { lineIndex: 1, line: lines[1], reason: 'RTNETLINK answers: File exists', message: '"link add b type bridge" failed: RTNETLINK answers: File exists' });
});

t.test('the rollback stack undoes newest first and carries on past a failing undo', async (t) => {
  const stack = new RollbackStack();
  const order: string[] = [];
  stack.push('first', async () => void order.push('first'));
  stack.push('broken', async () => {
    throw new Error('cannot');
  });
  stack.push('last', async () => void order.push('last'));
  const failures = await stack.unwind();
  t.same(order, ['last', 'first']);
  t.same(failures.map((failure) => failure.description), ['broken']);
  t.same(await stack.unwind(), [], 'a second unwind has nothing left to do');
});

t.test('concurrent steps are all awaited before the first failure is thrown', async (t) => {
  let slowFinished = false;
  const slow = new Promise<void>((resolve) => setTimeout(() => ((slowFinished = true), resolve()), 30));
  await t.rejects(allSettledOrThrow([Promise.reject(new Error('fast failure')), slow] as const), { message: 'fast failure' });
  t.ok(slowFinished, 'the slow step had finished');
});
