import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import t from "tap";

import { diffWire, type WireValue } from "./wire-diff.js";

const packageRoot = fileURLToPath(new URL("../../", import.meta.url));
const digestScript = fileURLToPath(new URL("../../scripts/wire-digest.mjs", import.meta.url));
const protoRoot = fileURLToPath(new URL("../../proto/", import.meta.url));

/** Our contracts and the upstream digests they must match, wire for wire. */
const contracts = [
  { name: "CRI runtime.v1", file: "cri/runtime/v1/api.proto", upstream: "cri-api-v0.36.3.wire.json" },
  { name: "CSI csi.v1", file: "csi/v1/csi.proto", upstream: "csi-v1.12.0.wire.json" },
] as const;

type Digest = { [key: string]: WireValue };

async function digestOurs(file: string): Promise<Digest> {
  const { stdout } = await promisify(execFile)(process.execPath, [digestScript, protoRoot, file], {
    cwd: packageRoot,
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(stdout) as Digest;
}

async function readUpstream(name: string): Promise<Digest> {
  const text = await readFile(new URL(`../data/upstream/${name}`, import.meta.url), "utf8");
  return JSON.parse(text) as Digest;
}

/** Drops the file's own path, which differs by layout and is not on the wire. */
function withoutFileName(digest: Digest): Digest {
  const { file: _file, ...rest } = digest;
  return rest;
}

for (const contract of contracts) {
  t.test(`${contract.name} in ${contract.file} matches upstream wire for wire`, async (t) => {
    const ours = withoutFileName(await digestOurs(contract.file));
    const upstream = withoutFileName(await readUpstream(contract.upstream));
    const differences = diffWire(ours, upstream);
    t.same(differences, [], `${differences.length} difference(s) from ${contract.upstream}`);
  });
}

t.test("a changed field number is reported at exactly its path", async (t) => {
  const ours = withoutFileName(await digestOurs("cri/runtime/v1/api.proto"));
  const mutated = structuredClone(ours) as { messages: { name: string; fields: { name: string; number: number }[] }[] };
  const field = mutated.messages.find((m) => m.name === "PodSandboxConfig")?.fields.find((f) => f.name === "hostname");
  if (field === undefined) throw new Error("PodSandboxConfig.hostname is missing from our digest");
  field.number = 99;
  t.same(diffWire(mutated as unknown as Digest, ours), [
    "messages[PodSandboxConfig].fields[hostname].number: ours 99, upstream 2",
  ]);
});

t.test("the differ reports elements missing in ours and extra in ours", async (t) => {
  const upstream = { enums: [{ name: "E", values: [{ name: "A", number: 0 }, { name: "B", number: 1 }] }] };
  const ours = { enums: [{ name: "E", values: [{ name: "A", number: 0 }, { name: "C", number: 2 }] }] };
  t.same(diffWire(ours, upstream), [
    'enums[E].values[B]: missing in ours (upstream: {"name":"B","number":1})',
    'enums[E].values[C]: extra in ours (ours: {"name":"C","number":2})',
  ]);
});

t.test("the differ reports an option present on only one side", async (t) => {
  const upstream = { options: { "[csi.v1.csi_secret]": true } };
  t.same(diffWire({}, upstream), ['options: missing in ours (upstream: {"[csi.v1.csi_secret]":true})']);
  t.same(diffWire({ options: {} }, upstream), ['options."[csi.v1.csi_secret]": missing in ours (upstream: true)']);
});

t.test("the differ reports a reordering of named elements", async (t) => {
  const upstream = { fields: [{ name: "a" }, { name: "b" }] };
  const ours = { fields: [{ name: "b" }, { name: "a" }] };
  t.same(diffWire(ours, upstream), ['fields: order differs, ours ["b","a"], upstream ["a","b"]']);
});
