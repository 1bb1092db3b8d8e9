import { InvalidImageReferenceError } from './image-errors.js';

/**
 * A parsed, normalized image reference, as docker/distribution's
 * `reference.ParseNormalizedNamed` and containerd read them: `busybox` is
 * `docker.io/library/busybox:latest`.
 */
export interface ImageReference {
  /** Registry host, with port when given: `docker.io`, `127.0.0.1:5000`. */
  readonly domain: string;
  /** Repository path inside the registry: `library/busybox`. */
  readonly path: string;
  /** `domain/path`. */
  readonly name: string;
  /** The tag; `latest` when neither tag nor digest was given. */
  readonly tag: string | undefined;
  /** `sha256:<hex>` when the reference pins a digest. */
  readonly digest: string | undefined;
}

/** The registry docker.io names, and where its API actually lives. */
export const defaultDomain = 'docker.io';
const legacyDefaultDomain = 'index.docker.io';
const officialRepositoryPrefix = 'library/';

// Grammar of docker/distribution reference/regexp.go (v2.8), restated.
const pathComponent = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const domainComponent = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const tagPattern = /^[\w][\w.-]{0,127}$/;
const digestPattern = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const sha256Pattern = /^sha256:[a-f0-9]{64}$/;
const maxNameLength = 255;

/** True for a 64-character lower-case hex string (an image ID without its algorithm). */
export function isFullHexId(value: string): boolean {
  return /^[a-f0-9]{64}$/.test(value);
}

/**
 * Parses and normalizes an image reference: docker.io and `library/` added
 * when no registry is named, `latest` when neither tag nor digest is given.
 * Throws {@link InvalidImageReferenceError} naming what is wrong.
 */
export function parseImageReference(reference: string): ImageReference {
  const fail = (reason: string): never => {
    throw new InvalidImageReferenceError(reference, reason);
  };
  if (reference === '') fail('it is empty');
  if (reference.trim() !== reference) fail('it has leading or trailing white space');
  if (isFullHexId(reference)) fail('a 64-character hex string is an image ID, not a repository name');

  let remainder = reference;
  let digest: string | undefined;
  const at = remainder.indexOf('@');
  if (at >= 0) {
    digest = remainder.slice(at + 1);
    remainder = remainder.slice(0, at);
    if (!digestPattern.test(digest)) fail(`digest ${JSON.stringify(digest)} is malformed`);
    if (digest.startsWith('sha256:') && !sha256Pattern.test(digest)) fail(`digest ${JSON.stringify(digest)} is not sha256 and 64 hex characters`);
    if (!digest.startsWith('sha256:')) fail(`digest algorithm of ${JSON.stringify(digest)} is not supported (only sha256)`);
  }

  // A tag follows the last colon unless that colon belongs to the domain's port.
  let tag: string | undefined;
  const lastColon = remainder.lastIndexOf(':');
  if (lastColon > remainder.lastIndexOf('/')) {
    tag = remainder.slice(lastColon + 1);
    remainder = remainder.slice(0, lastColon);
    if (!tagPattern.test(tag)) fail(`tag ${JSON.stringify(tag)} is malformed`);
  }
  if (remainder === '') fail('it has no repository name');

  const slash = remainder.indexOf('/');
  const first = slash < 0 ? '' : remainder.slice(0, slash);
  let domain: string;
  let path: string;
  if (slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase())) {
    domain = first;
    path = remainder.slice(slash + 1);
  } else {
    domain = defaultDomain;
    path = remainder;
  }
  if (domain === legacyDefaultDomain) domain = defaultDomain;
  checkDomain(domain, fail);
  if (domain === defaultDomain && !path.includes('/')) path = officialRepositoryPrefix + path;
  if (path === '') fail('it has no repository name');
  for (const component of path.split('/')) {
    if (!pathComponent.test(component)) {
      fail(
        component !== component.toLowerCase()
          ? 'repository name must be lowercase'
          : `repository path component ${JSON.stringify(component)} is malformed`,
      );
    }
  }
  const name = `${domain}/${path}`;
  if (name.length > maxNameLength) fail(`repository name is longer than ${maxNameLength} characters`);
  if (tag === undefined && digest === undefined) tag = 'latest';
  return { domain, path, name, tag, digest };
}

function checkDomain(domain: string, fail: (reason: string) => never): void {
  let host = domain;
  const colon = domain.lastIndexOf(':');
  if (domain.startsWith('[')) {
    const close = domain.indexOf(']');
    if (close < 0) fail(`registry host ${JSON.stringify(domain)} is malformed`);
    const rest = domain.slice(close + 1);
    if (rest !== '' && !/^:[0-9]+$/.test(rest)) fail(`registry port in ${JSON.stringify(domain)} is malformed`);
    return;
  }
  if (colon >= 0) {
    if (!/^[0-9]+$/.test(domain.slice(colon + 1))) fail(`registry port in ${JSON.stringify(domain)} is malformed`);
    host = domain.slice(0, colon);
  }
  if (host === '' || !host.split('.').every((part) => domainComponent.test(part))) {
    fail(`registry host ${JSON.stringify(domain)} is malformed`);
  }
}

/** `name:tag`, or `name@digest`, or `name:tag@digest`: the normalized spelling. */
export function formatImageReference(reference: ImageReference): string {
  let text = reference.name;
  if (reference.tag !== undefined) text += `:${reference.tag}`;
  if (reference.digest !== undefined) text += `@${reference.digest}`;
  return text;
}

/** `name:tag` for a tagged reference, else undefined. */
export function repoTagOf(reference: ImageReference): string | undefined {
  return reference.tag === undefined ? undefined : `${reference.name}:${reference.tag}`;
}

/** `name@digest` for the given content digest. */
export function repoDigestOf(reference: ImageReference, digest: string): string {
  return `${reference.name}@${digest}`;
}
