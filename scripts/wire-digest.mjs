#!/usr/bin/env node
// Prints a normalised JSON digest of everything one .proto file puts on the
// wire, so two copies of a contract can be compared fact by fact while their
// comments and layout differ.
//
// Usage: node scripts/wire-digest.mjs <proto-root-dir> <file-relative-to-root>
//
// The file is compiled with buf (source info excluded, so comments cannot leak
// into the digest), the FileDescriptorSet is decoded with @bufbuild/protobuf,
// and options are rendered through a registry built from that same set, which
// makes custom options such as csi.v1.csi_secret show up by name.

import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { createFileRegistry, createRegistry, fromBinary, isFieldSet, toJson } from "@bufbuild/protobuf";
import {
  FieldDescriptorProtoSchema,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  file_google_protobuf_descriptor,
} from "@bufbuild/protobuf/wkt";

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const bufBinary = join(packageRoot, "node_modules", ".bin", "buf");

/** Compiles one file under `protoRoot` and returns its FileDescriptorSet bytes. */
async function buildDescriptorSet(protoRoot, relativeFile) {
  // buf resolves --path against the working directory, so run it in the root.
  const { stdout } = await promisify(execFile)(
    bufBinary,
    ["build", ".", "--path", relativeFile, "-o", "-#format=binpb", "--exclude-source-info"],
    { cwd: protoRoot, encoding: "buffer", maxBuffer: 64 * 1024 * 1024 },
  );
  return new Uint8Array(stdout);
}

/**
 * Renders an options message (or undefined) as JSON. Extensions known to the
 * registry appear as "[full.name]" keys; any unknown field left over is kept
 * as hex so that nothing on the wire can go unnoticed.
 */
function renderOptions(schemaFor, options, registry) {
  if (options === undefined) return undefined;
  const json = toJson(schemaFor(options), options, { registry });
  for (const unknown of options.$unknown ?? []) {
    const known = registry.getExtensionFor(schemaFor(options), unknown.no);
    if (known === undefined) {
      json[`[unknown ${unknown.no}]`] = Buffer.from(unknown.data).toString("hex");
    }
  }
  return json;
}

/** Drops keys whose value is undefined, an empty array or an empty object. */
function compact(record) {
  const out = {};
  for (const [key, value] of Object.entries(record)) {
    if (value === undefined) continue;
    if (Array.isArray(value) && value.length === 0) continue;
    if (value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 0) continue;
    out[key] = value;
  }
  return out;
}

// descriptor.proto is proto2: an unset optional reads as its default (0, ""),
// so presence has to be asked for explicitly where 0 or "" is meaningful.
const fieldHas = (field, name) => isFieldSet(field, FieldDescriptorProtoSchema.field[name]);

/** Spells an enum-typed descriptor field the way descriptor.proto does (TYPE_STRING). */
function enumName(schema, fieldName, number) {
  const value = schema.field[fieldName].enum.values.find((v) => v.number === number);
  return value === undefined ? number : value.name;
}

function digestField(field, message, render) {
  return compact({
    name: field.name,
    number: field.number,
    label: enumName(FieldDescriptorProtoSchema, "label", field.label),
    type: enumName(FieldDescriptorProtoSchema, "type", field.type),
    type_name: field.typeName || undefined,
    extendee: field.extendee || undefined,
    oneof: message !== undefined && fieldHas(field, "oneofIndex")
      ? message.oneofDecl[field.oneofIndex].name
      : undefined,
    proto3_optional: field.proto3Optional || undefined,
    json_name: fieldHas(field, "jsonName") ? field.jsonName : undefined,
    default: fieldHas(field, "defaultValue") ? field.defaultValue : undefined,
    options: render(field.options),
  });
}

function digestEnum(enumType, render) {
  return compact({
    name: enumType.name,
    values: enumType.value.map((value) =>
      compact({ name: value.name, number: value.number, options: render(value.options) }),
    ),
    reserved_ranges: enumType.reservedRange.map((r) => ({ start: r.start, end: r.end })),
    reserved_names: enumType.reservedName,
    options: render(enumType.options),
  });
}

function digestMessage(message, render) {
  return compact({
    name: message.name,
    fields: message.field.map((field) => digestField(field, message, render)),
    oneofs: message.oneofDecl.map((oneof) => compact({ name: oneof.name, options: render(oneof.options) })),
    nested_messages: message.nestedType.map((nested) => digestMessage(nested, render)),
    nested_enums: message.enumType.map((nested) => digestEnum(nested, render)),
    extensions: message.extension.map((ext) => digestField(ext, undefined, render)),
    extension_ranges: message.extensionRange.map((r) => ({ start: r.start, end: r.end })),
    reserved_ranges: message.reservedRange.map((r) => ({ start: r.start, end: r.end })),
    reserved_names: message.reservedName,
    options: render(message.options),
  });
}

function digestService(service, render) {
  return compact({
    name: service.name,
    methods: service.method.map((method) =>
      compact({
        name: method.name,
        input: method.inputType,
        output: method.outputType,
        client_streaming: method.clientStreaming,
        server_streaming: method.serverStreaming,
        options: render(method.options),
      }),
    ),
    options: render(service.options),
  });
}

/** Builds the digest of `relativeFile` as a plain JSON-ready object. */
export async function wireDigest(protoRoot, relativeFile) {
  const set = fromBinary(FileDescriptorSetSchema, await buildDescriptorSet(protoRoot, relativeFile));
  const registry = createFileRegistry(set);
  const file = set.file.find((f) => f.name === relativeFile);
  if (file === undefined) {
    throw new Error(`buf output holds no file named ${relativeFile}`);
  }
  // Options messages carry their own type name, which picks the schema. A file
  // that imports nothing brings no descriptor.proto, hence the bundled fallback.
  const bundled = createRegistry(file_google_protobuf_descriptor);
  const schemaFor = (options) => {
    const schema = registry.getMessage(options.$typeName) ?? bundled.getMessage(options.$typeName);
    if (schema === undefined) throw new Error(`no descriptor for ${options.$typeName}`);
    return schema;
  };
  const render = (options) => renderOptions(schemaFor, options, registry);
  return compact({
    file: file.name,
    package: file.package,
    syntax: file.syntax || "proto2",
    edition: isFieldSet(file, FileDescriptorProtoSchema.field.edition) ? enumName(FileDescriptorProtoSchema, "edition", file.edition) : undefined,
    imports: file.dependency,
    public_imports: file.publicDependency,
    weak_imports: file.weakDependency,
    options: render(file.options),
    messages: file.messageType.map((message) => digestMessage(message, render)),
    enums: file.enumType.map((enumType) => digestEnum(enumType, render)),
    services: file.service.map((service) => digestService(service, render)),
    extensions: file.extension.map((ext) => digestField(ext, undefined, render)),
  });
}

async function main(argv) {
  const [protoRoot, relativeFile] = argv;
  if (protoRoot === undefined || relativeFile === undefined || !existsSync(join(protoRoot, relativeFile))) {
    process.stderr.write("usage: node scripts/wire-digest.mjs <proto-root-dir> <file-relative-to-root>\n");
    process.exitCode = 2;
    return;
  }
  const digest = await wireDigest(resolve(protoRoot), relativeFile);
  process.stdout.write(`${JSON.stringify(digest, null, 2)}\n`);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main(process.argv.slice(2));
}
