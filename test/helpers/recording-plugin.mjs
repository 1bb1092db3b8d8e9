#!/usr/bin/env node
// A test double for a CNI plugin: appends what it was given (its name, env
// and stdin) to the JSONL file named by the config field "recordTo", then
// answers per the config field "behaviour": ADD passes prevResult on (or
// makes a fresh result), "fail-on" makes the named verbs fail with code 104.
import fs from 'node:fs';
import path from 'node:path';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const stdin = Buffer.concat(chunks).toString('utf8');
const conf = stdin === '' ? {} : JSON.parse(stdin);
const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => key.startsWith('CNI_')));
const verb = env.CNI_COMMAND;
if (typeof conf.recordTo === 'string') {
  fs.appendFileSync(conf.recordTo, `${JSON.stringify({ plugin: path.basename(process.argv[1]), marker: conf.marker, verb, env, conf })}\n`);
}
const version = conf.cniVersion ?? '1.1.0';
if (verb === 'VERSION') {
  process.stdout.write(JSON.stringify({ cniVersion: version, supportedVersions: ['0.3.1', '0.4.0', '1.0.0', '1.1.0'] }));
} else if ((conf.failOn ?? []).includes(verb)) {
  process.stdout.write(JSON.stringify({ cniVersion: version, code: 104, msg: `${conf.marker} fails ${verb}` }));
  process.exitCode = 1;
} else if (verb === 'ADD') {
  const previous = conf.prevResult ?? { cniVersion: version, interfaces: [], ips: [] };
  const interfaces = [...(previous.interfaces ?? []), { name: `${conf.marker}0` }];
  process.stdout.write(JSON.stringify({ ...previous, cniVersion: version, interfaces }));
}
