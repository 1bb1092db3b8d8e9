/**
 * Static pods from a manifest directory, read the way the kubelet's file
 * source reads them: every regular file whose name does not start with '.',
 * one pod per file, YAML or JSON; then the static-pod treatment (name suffix,
 * namespace, UID, config annotations, node name), the API server's defaults
 * and validation.
 * Source: kubernetes/kubernetes pkg/kubelet/config/file.go (extractFromDir)
 * and pkg/kubelet/config/common.go (applyDefaults, tryDecodeSinglePod).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { FieldError } from '../api/field-error.js';
import type { PodDisruptionBudget } from '../api/disruption-types.js';
import type { Pod } from '../api/pod-types.js';
import { budgetFromDocument, budgetKind } from '../disruption/budget-document.js';
import { applyPodDefaults } from './apply-defaults.js';
import { fieldErrors } from './field-errors.js';
import { staticPodUid } from './static-pod-uid.js';
import { validatePod } from './validate-pod.js';

/** Annotation keys the kubelet sets on static pods (pkg/kubelet/types/pod_update.go). */
export const configSourceAnnotation = 'kubernetes.io/config.source';
export const configHashAnnotation = 'kubernetes.io/config.hash';

/**
 * One manifest file's outcome. `pod` is set whenever the file holds a Pod
 * with a name (defaulted, renamed, UID set), even when `errors` is not empty,
 * so a refused pod can still be shown by name (KUBELET-MANIFEST-007); a pod
 * with errors must never run. Without `pod` the file could not be read as a
 * Pod at all (KUBELET-MANIFEST-011). A file of kind PodDisruptionBudget sets
 * `budget` instead (with the same rule: errors mean it must not be used).
 */
export interface ManifestLoad {
  /** The file's name inside the manifest directory. */
  readonly file: string;
  readonly pod?: Pod;
  readonly budget?: PodDisruptionBudget;
  readonly errors: FieldError[];
}

/** The kinds a manifest file may hold. */
export const manifestKinds = ['Pod', budgetKind] as const;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** Parses a manifest's text (YAML, of which JSON is a subset) into one document, or errors naming the file. */
export function parseManifestText(file: string, text: string): { document?: unknown; errors: FieldError[] } {
  if (text.trim() === '') return { errors: [new FieldError(file, 'the manifest is empty')] };
  let documents;
  try {
    documents = parseAllDocuments(text, { prettyErrors: false });
  } catch (error) {
    return { errors: [new FieldError(file, `not YAML or JSON: ${oneLine((error as Error).message)}`)] };
  }
  if (!Array.isArray(documents)) {
    // parseAllDocuments answers an EmptyStream when the text holds only comments.
    return { errors: [new FieldError(file, 'the manifest holds no document')] };
  }
  const present = documents.filter((document) => document.contents !== null || document.errors.length > 0);
  if (present.length !== 1) {
    return { errors: [new FieldError(file, `a manifest holds exactly one pod document, not ${present.length}`)] };
  }
  const document = present[0]!;
  if (document.errors.length > 0) {
    return { errors: [new FieldError(file, `not YAML or JSON: ${oneLine(document.errors[0]!.message)}`)] };
  }
  try {
    return { document: document.toJS({ maxAliasCount: 100 }), errors: [] };
  } catch (error) {
    return { errors: [new FieldError(file, `not YAML or JSON: ${oneLine((error as Error).message)}`)] };
  }
}

/** Checks that a document is a core/v1 Pod with a name; errors name the field. */
function checkPodDocument(document: unknown): FieldError[] {
  if (!isObject(document)) return [fieldErrors.invalid('', document, 'the manifest must be an object (a Pod)')];
  const errors: FieldError[] = [];
  if (document.kind === undefined) errors.push(fieldErrors.required('kind'));
  else if (document.kind !== 'Pod') errors.push(fieldErrors.unsupported('kind', document.kind, manifestKinds));
  if (document.apiVersion === undefined) errors.push(fieldErrors.required('apiVersion'));
  else if (document.apiVersion !== 'v1') errors.push(fieldErrors.unsupported('apiVersion', document.apiVersion, ['v1']));
  if (!isObject(document.metadata)) errors.push(fieldErrors.required('metadata'));
  else if (typeof document.metadata.name !== 'string' || document.metadata.name === '') {
    errors.push(fieldErrors.required('metadata.name'));
  }
  if (!isObject(document.spec)) errors.push(fieldErrors.required('spec'));
  return errors;
}

export interface StaticPodOptions {
  readonly file: string;
  readonly nodeName: string;
}

/**
 * Turns one parsed manifest document into a ManifestLoad: the document
 * checks, the static-pod treatment, defaults, then validation. Pure.
 * @see KUBELET-MANIFEST-002
 */
export function staticPodFromDocument(document: unknown, options: StaticPodOptions): ManifestLoad {
  const { file, nodeName } = options;
  const documentErrors = checkPodDocument(document);
  if (documentErrors.length > 0) return { file, errors: documentErrors };
  const raw = document as unknown as Pod;
  // The UID hashes the document as written, so any change makes a new pod;
  // unlike upstream, a uid written in the file is not kept (it would let a
  // changed manifest pass for the same pod).
  const uid = staticPodUid({ document, nodeName, source: file });
  const { status: _ignoredStatus, ...withoutStatus } = raw;
  void _ignoredStatus;
  const defaulted = applyPodDefaults(withoutStatus);
  const pod: Pod = {
    ...defaulted,
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      ...defaulted.metadata,
      name: `${raw.metadata.name}-${nodeName.toLowerCase()}`,
      namespace: typeof raw.metadata.namespace === 'string' && raw.metadata.namespace !== '' ? raw.metadata.namespace : 'default',
      uid,
      annotations: {
        ...(isObject(raw.metadata.annotations) ? raw.metadata.annotations : {}),
        [configSourceAnnotation]: 'file',
        [configHashAnnotation]: uid,
      },
    },
    spec: { ...defaulted.spec, nodeName },
  };
  return { file, pod, errors: validatePod(pod) };
}

/** Loads one manifest's text, routed by its kind (Pod or PodDisruptionBudget). Never throws. */
export function loadManifestText(text: string, options: StaticPodOptions): ManifestLoad {
  const parsed = parseManifestText(options.file, text);
  if (parsed.errors.length > 0) return { file: options.file, errors: parsed.errors };
  const document = parsed.document;
  if (isObject(document) && document.kind === budgetKind) {
    const { budget, errors } = budgetFromDocument(document);
    return { file: options.file, ...(budget === undefined ? {} : { budget }), errors };
  }
  return staticPodFromDocument(document, options);
}

/**
 * Every manifest of the directory, in file name order. A file that cannot be
 * read or parsed yields errors, never an exception; a missing directory
 * yields no manifests (as upstream, which ignores a path that does not exist).
 * @see KUBELET-MANIFEST-001
 * @see KUBELET-MANIFEST-011
 */
export async function loadManifests(dir: string, nodeName: string): Promise<ManifestLoad[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const loads: ManifestLoad[] = [];
  for (const file of names.filter((name) => !name.startsWith('.')).sort()) {
    const filePath = path.join(dir, file);
    let text: string;
    try {
      // stat follows symlinks, as upstream's os.Stat does; directories are not recursed into.
      const stat = await fs.stat(filePath);
      if (stat.isDirectory()) continue;
      if (!stat.isFile()) {
        loads.push({ file, errors: [new FieldError(file, 'the manifest path is not a regular file')] });
        continue;
      }
      text = await fs.readFile(filePath, 'utf8');
    } catch (error) {
      // The file may vanish between readdir and read (an atomic rename in progress).
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      loads.push({ file, errors: [new FieldError(file, `cannot read: ${(error as Error).message}`)] });
      continue;
    }
    loads.push(loadManifestText(text, { file, nodeName }));
  }
  return loads;
}

/** One line naming the file and every field error, for events and pod messages. */
export function describeManifestErrors(load: Pick<ManifestLoad, 'file' | 'errors'>): string {
  // An error about the file as a whole is named by the file already.
  const details = load.errors.map((error) => (error.field === load.file || error.field === '' ? error.detail : error.message));
  return `${load.file}: ${details.join('; ')}`;
}
