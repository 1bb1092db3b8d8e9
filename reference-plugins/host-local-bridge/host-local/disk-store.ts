import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { CniError } from '../../../specs/cni/cni-error.js';
import { lockFileExclusively, type FileLock, type FileLocker } from './file-lock.js';
import { ioFailure } from './host-local-errors.js';
import { formatIp, parseIp, type IpAddress } from './ip-address.js';
import type { LockedStore, ReservationStore } from './reservation-store.js';
import { parseReservationContent, reservationContent, type Owner, type Reservation } from './reservation.js';

/** Options for {@link openDiskStore}. */
export interface DiskStoreOptions {
  readonly dataDir: string;
  readonly network: string;
  /** How long to wait for the lock before TRY_AGAIN_LATER; {@link defaultLockWaitSeconds} when unset. */
  readonly lockWaitSeconds?: number;
  /** Takes the lock; {@link lockFileExclusively} when unset. */
  readonly locker?: FileLocker;
}

/** How long an operation waits for another host-local to finish before TRY_AGAIN_LATER. */
export const defaultLockWaitSeconds = 60;

// Upstream's names inside <dataDir>/<network>/ (backend/disk/backend.go, lock.go).
const lastReservedPrefix = 'last_reserved_ip.';
const lockFileName = 'lock';
// Our temp files: a name that never parses as an address, so upstream never reads one as a reservation.
const tempPrefix = '.kubeplug-tmp-';

function isErrorCode(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === code;
}

function unlinkIfPresent(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch (error) {
    if (!isErrorCode(error, 'ENOENT')) throw error;
  }
}

/** Removes a temp file, leaving it to the next scan when that fails. */
function removeTempQuietly(temp: string): void {
  try {
    unlinkIfPresent(temp);
  } catch {
    // The next scan removes it.
  }
}

/**
 * Opens the disk store of a network the way upstream host-local lays it out,
 * byte for byte, so either plugin can take over the other's reservations:
 * `<dataDir>/<network>/` (mode 0755) holding one file per reserved address,
 * named by the address (`10.1.0.5`, `2001:db8::5`), mode 0600, holding
 * `<containerID>\r\n<ifname>`; `last_reserved_ip.<rangeSetIndex>` holding the
 * last address handed out; and `lock`, flock(2)ed exclusively for the whole
 * operation. Waits for the lock; the caller must close the store.
 *
 * Unlike upstream, every write is crash-safe: a reservation is written to a
 * temp file, fsynced and link(2)ed into place (link fails when the name
 * exists, so it is as exclusive as O_EXCL yet never leaves an empty file);
 * last_reserved_ip is replaced by rename(2); the directory is fsynced once,
 * when the store closes after a change.
 * @see containernetworking/plugins plugins/ipam/host-local/backend/disk/backend.go
 */
export async function openDiskStore(options: DiskStoreOptions): Promise<LockedStore> {
  const dir = path.join(options.dataDir, options.network);
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  } catch (error) {
    throw ioFailure(`create data directory ${dir}`, error);
  }
  let lock: FileLock;
  try {
    lock = await (options.locker ?? lockFileExclusively)(path.join(dir, lockFileName), { waitSeconds: options.lockWaitSeconds ?? defaultLockWaitSeconds });
  } catch (error) {
    throw error instanceof CniError ? error : ioFailure(`open ${path.join(dir, lockFileName)}`, error);
  }
  return new DiskStore(dir, lock);
}

/**
 * The store's cheap file work (reads, links, renames, unlinks: page-cache
 * operations) is synchronous, which keeps the locked stretch short. The two
 * fsyncs wait on the disk for milliseconds, so they run on the thread pool:
 * the process may be doing other work meanwhile (the bridge making links
 * while its IPAM runs in process, or a node agent serving other calls).
 */
class DiskStore implements LockedStore {
  // Set by any change, so close() fsyncs the directory once instead of after every file.
  private changed = false;
  private tempCount = 0;

  constructor(
    private readonly dir: string,
    private readonly lock: FileLock,
  ) {}

  async scan(): Promise<Reservation[]> {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch (error) {
      throw ioFailure(`list ${this.dir}`, error);
    }
    return names.map((name) => this.readEntry(name)).filter((entry): entry is Reservation => entry !== undefined);
  }

  private readEntry(name: string): Reservation | undefined {
    const file = path.join(this.dir, name);
    try {
      if (name.startsWith(tempPrefix)) {
        // A temp file outliving its writer: it was killed between writing it and removing it.
        unlinkIfPresent(file);
        return undefined;
      }
      const ip = parseIp(name);
      if (ip === undefined) return undefined;
      const holder = parseReservationContent(fs.readFileSync(file, 'utf8'));
      if (holder === undefined) {
        // Upstream creates the file before writing it; an empty one under the lock is a crashed ADD, never a live one.
        unlinkIfPresent(file);
        this.changed = true;
        return undefined;
      }
      return { ip, key: name, ...holder };
    } catch (error) {
      if (isErrorCode(error, 'ENOENT') || isErrorCode(error, 'EISDIR')) return undefined;
      throw ioFailure(`read reservation ${file}`, error);
    }
  }

  async reserve(request: { ip: IpAddress; owner: Owner; rangeSetIndex: number }): Promise<Reservation | undefined> {
    const key = formatIp(request.ip);
    const target = path.join(this.dir, key);
    // Durable content first, so the name never points at an empty file, even after a power cut.
    const temp = await this.writeDurableTemp(reservationContent(request.owner));
    try {
      fs.linkSync(temp, target);
    } catch (error) {
      if (isErrorCode(error, 'EEXIST')) return undefined;
      throw ioFailure(`reserve ${target}`, error);
    } finally {
      removeTempQuietly(temp);
    }
    this.changed = true;
    this.writeLastReserved(request.rangeSetIndex, request.ip);
    return { ip: request.ip, key, containerId: request.owner.containerId.trim(), ifName: request.owner.ifName };
  }

  async lastReserved(rangeSetIndex: number): Promise<IpAddress | undefined> {
    try {
      // Upstream writes it without a newline; a torn or foreign value only costs round-robin its place once.
      return parseIp(fs.readFileSync(path.join(this.dir, `${lastReservedPrefix}${rangeSetIndex}`), 'utf8').trim());
    } catch {
      return undefined;
    }
  }

  async release(reservation: Reservation): Promise<void> {
    const file = path.join(this.dir, reservation.key);
    try {
      unlinkIfPresent(file);
      this.changed = true;
    } catch (error) {
      throw ioFailure(`release ${file}`, error);
    }
  }

  async close(): Promise<void> {
    try {
      // Durable before the lock goes and before the caller reports success.
      if (this.changed) await this.syncDirectory();
    } finally {
      this.changed = false;
      await this.lock.release();
    }
  }

  /** A fresh temp file name in the network directory. */
  private tempName(): string {
    // Unique without node:crypto (costly to load on every ADD): only the lock holder writes temp files, and scans remove the dead's.
    this.tempCount += 1;
    return path.join(this.dir, `${tempPrefix}${process.pid}-${process.hrtime.bigint()}-${this.tempCount}`);
  }

  /** Writes content to a fresh temp file, not fsynced. */
  private writeTemp(content: string): string {
    const temp = this.tempName();
    try {
      const fd = fs.openSync(temp, 'wx', 0o600);
      try {
        fs.writeFileSync(fd, content);
      } finally {
        fs.closeSync(fd);
      }
    } catch (error) {
      removeTempQuietly(temp);
      throw ioFailure(`write ${temp}`, error);
    }
    return temp;
  }

  /** Writes content to a fresh temp file and fsyncs it (on the thread pool). */
  private async writeDurableTemp(content: string): Promise<string> {
    const temp = this.tempName();
    try {
      const handle = await fsp.open(temp, 'wx', 0o600);
      try {
        await handle.writeFile(content);
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (error) {
      removeTempQuietly(temp);
      throw ioFailure(`write ${temp}`, error);
    }
    return temp;
  }

  private writeLastReserved(rangeSetIndex: number, ip: IpAddress): void {
    const file = path.join(this.dir, `${lastReservedPrefix}${rangeSetIndex}`);
    // Replaced whole by rename, but not fsynced: it is only round-robin's hint, and unreadable reads as unknown.
    const temp = this.writeTemp(formatIp(ip));
    try {
      fs.renameSync(temp, file);
    } catch (error) {
      removeTempQuietly(temp);
      throw ioFailure(`write ${file}`, error);
    }
  }

  /** One fsync of the directory makes every link, unlink and rename in it durable. */
  private async syncDirectory(): Promise<void> {
    try {
      const handle = await fsp.open(this.dir, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (error) {
      throw ioFailure(`sync ${this.dir}`, error);
    }
  }
}

/**
 * Opens and locks the store, runs `action`, and closes the store whatever
 * happens, so the lock never outlives the operation.
 */
export async function withDiskStore<T>(options: DiskStoreOptions, action: (store: ReservationStore) => Promise<T>): Promise<T> {
  const store = await openDiskStore(options);
  let result: T;
  try {
    result = await action(store);
  } catch (error) {
    // The action's error is the one worth reporting; closing still drops the lock.
    await store.close().catch(() => undefined);
    throw error;
  }
  await store.close();
  return result;
}
