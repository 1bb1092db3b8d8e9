/** A JSON value as scripts/wire-digest.mjs writes it. */
export type WireValue = string | number | boolean | null | WireValue[] | { [key: string]: WireValue };

type WireObject = { [key: string]: WireValue };

const identifier = /^[A-Za-z_][A-Za-z0-9_]*$/;
const shownLength = 120;

function isObject(value: WireValue | undefined): value is WireObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function show(value: WireValue): string {
  const text = JSON.stringify(value);
  return text.length > shownLength ? `${text.slice(0, shownLength)}…` : text;
}

function keyPath(path: string, key: string): string {
  const step = identifier.test(key) ? key : JSON.stringify(key);
  return path === "" ? step : `${path}.${step}`;
}

/** Returns the element names when every element is an object with a distinct string name. */
function namesOf(list: WireValue[]): string[] | undefined {
  const names: string[] = [];
  for (const element of list) {
    if (!isObject(element) || typeof element.name !== "string") return undefined;
    names.push(element.name);
  }
  return new Set(names).size === names.length ? names : undefined;
}

function diffNamedLists(path: string, ours: WireValue[], upstream: WireValue[], out: string[]): boolean {
  const ourNames = namesOf(ours);
  const upstreamNames = namesOf(upstream);
  if (ourNames === undefined || upstreamNames === undefined) return false;
  const ourByName = new Map(ourNames.map((name, i) => [name, ours[i] as WireValue]));
  for (const [i, name] of upstreamNames.entries()) {
    const theirs = upstream[i] as WireValue;
    const mine = ourByName.get(name);
    if (mine === undefined) out.push(`${path}[${name}]: missing in ours (upstream: ${show(theirs)})`);
    else walk(`${path}[${name}]`, mine, theirs, out);
  }
  const upstreamSet = new Set(upstreamNames);
  for (const [i, name] of ourNames.entries()) {
    if (!upstreamSet.has(name)) out.push(`${path}[${name}]: extra in ours (ours: ${show(ours[i] as WireValue)})`);
  }
  // Declaration order is part of the descriptor, so a reordering counts too.
  const ourShared = ourNames.filter((name) => upstreamSet.has(name));
  const upstreamShared = upstreamNames.filter((name) => ourByName.has(name));
  if (ourShared.join("\n") !== upstreamShared.join("\n")) {
    out.push(`${path}: order differs, ours ${show(ourShared)}, upstream ${show(upstreamShared)}`);
  }
  return true;
}

function walk(path: string, ours: WireValue, upstream: WireValue, out: string[]): void {
  if (Array.isArray(ours) && Array.isArray(upstream)) {
    if (diffNamedLists(path, ours, upstream, out)) return;
    const length = Math.max(ours.length, upstream.length);
    for (let i = 0; i < length; i++) {
      const here = `${path}[${i}]`;
      if (i >= ours.length) out.push(`${here}: missing in ours (upstream: ${show(upstream[i] as WireValue)})`);
      else if (i >= upstream.length) out.push(`${here}: extra in ours (ours: ${show(ours[i] as WireValue)})`);
      else walk(here, ours[i] as WireValue, upstream[i] as WireValue, out);
    }
    return;
  }
  if (isObject(ours) && isObject(upstream)) {
    for (const [key, theirs] of Object.entries(upstream)) {
      const mine = ours[key];
      if (mine === undefined) out.push(`${keyPath(path, key)}: missing in ours (upstream: ${show(theirs)})`);
      else walk(keyPath(path, key), mine, theirs, out);
    }
    for (const [key, mine] of Object.entries(ours)) {
      if (!(key in upstream)) out.push(`${keyPath(path, key)}: extra in ours (ours: ${show(mine)})`);
    }
    return;
  }
  if (JSON.stringify(ours) !== JSON.stringify(upstream)) {
    out.push(`${path === "" ? "(root)" : path}: ours ${show(ours)}, upstream ${show(upstream)}`);
  }
}

/**
 * Lists every difference between two wire digests, one line each, as
 * "path: what differs". Named elements (messages, fields, values, methods)
 * are matched by name, so one missing field yields one line instead of a
 * cascade; an empty result means the digests describe the same wire.
 */
export function diffWire(ours: WireValue, upstream: WireValue): string[] {
  const out: string[] = [];
  walk("", ours, upstream, out);
  return out;
}
