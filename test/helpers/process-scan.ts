import fs from 'node:fs';

/** `pid cmdline` of every process (but this one) whose command line contains `text`: what a run that names its folder left running. */
export function processesNaming(text: string): string[] {
  const found: string[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmdline.includes(text)) found.push(`${name} ${cmdline}`);
    } catch {
      // ended meanwhile
    }
  }
  return found;
}
