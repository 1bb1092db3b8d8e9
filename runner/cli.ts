#!/usr/bin/env node
/**
 * The kubeplug command line. Exit codes: 0 certified (or a listing printed),
 * 1 not certified, 2 usage or harness error. A usage error is one line on
 * stderr naming the flag or address, never a stack trace.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { certifyCommand, type CommandIo } from './commands/certify.js';
import { drainCommand, uncordonCommand } from './commands/drain.js';
import { kubeletCommand } from './commands/kubelet.js';
import { listCommand } from './commands/list.js';
import { serveCommand } from './commands/serve.js';
import { kitVersion } from './kit-version.js';
import { UsageError } from './usage-error.js';

/** Runs the CLI with the given arguments; resolves to the exit code. */
export async function main(args: readonly string[], io: Omit<CommandIo, 'setExitCode'>): Promise<number> {
  let exitCode = 0;
  const commandIo: CommandIo = { ...io, setExitCode: (code) => void (exitCode = code) };
  const parser = yargs([...args])
    .scriptName('kubeplug')
    .usage('$0 <command> [options]\n\nSpecifies, implements and certifies CRI, CNI and CSI plugins.')
    .command(certifyCommand(commandIo))
    .command(listCommand(commandIo))
    .command(serveCommand(commandIo))
    .command(kubeletCommand(commandIo))
    .command(drainCommand(commandIo))
    .command(uncordonCommand(commandIo))
    .demandCommand(1, 'name a command: certify, list, serve, kubelet, drain or uncordon')
    .strict()
    .version(kitVersion())
    .help()
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    .exitProcess(false)
    .fail((message: string | undefined, error: Error | undefined) => {
      // yargs' own validation messages get a pointer to --help; errors from handlers pass through.
      throw error ?? new UsageError(`${message ?? 'invalid usage'} (see --help)`);
    });
  try {
    await parser.parseAsync();
  } catch (error) {
    if (error instanceof UsageError) {
      io.progress.write(`kubeplug: ${error.message}\n`);
      return 2;
    }
    io.progress.write(`kubeplug: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 2;
  }
  return exitCode;
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === (await import('node:url')).pathToFileURL((await import('node:fs')).realpathSync(process.argv[1])).href;
if (invokedDirectly) {
  const code = await main(hideBin(process.argv), {
    progress: { write: (text) => void process.stderr.write(text), isTTY: process.stderr.isTTY === true, columns: process.stderr.columns },
    out: { write: (text) => void process.stdout.write(text), isTTY: process.stdout.isTTY === true, columns: process.stdout.columns },
  });
  process.exitCode = code;
}
