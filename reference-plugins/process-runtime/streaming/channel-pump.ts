import type { Readable } from 'node:stream';
import type { ChannelConnection } from './channel-connection.js';

/**
 * Copies `source` onto `channel` with back-pressure (the source pauses while
 * the socket's buffer is full); with no channel the source is read and
 * dropped so the writer never blocks. Resolves when the source ends.
 */
export function pumpToChannel(source: Readable, channels: ChannelConnection, channel: number | undefined): Promise<void> {
  return new Promise((resolve) => {
    source.on('data', (chunk: Buffer) => {
      if (channel === undefined || !channels.open) return;
      if (!channels.write(channel, chunk)) {
        source.pause();
        channels.onceDrained(() => source.resume());
      }
    });
    source.once('end', () => resolve());
    source.once('close', () => resolve());
    source.once('error', () => resolve());
  });
}
