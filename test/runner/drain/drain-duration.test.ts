import t from 'tap';
import { DurationSyntaxError, formatDuration, parseDuration } from '../../../runner/drain/index.js';

t.test('durations are read as Go durations or plain seconds', async (t) => {
  const table: [string, number][] = [
    ['0', 0],
    ['12', 12_000],
    ['1.5', 1500],
    ['90s', 90_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000],
    ['1m30s', 90_000],
    ['500ms', 500],
    ['0s', 0],
    ['1.5s', 1500],
    ['2us', 1],
    [' 12s ', 12_000],
  ];
  for (const [text, milliseconds] of table) t.equal(parseDuration(text), milliseconds, text);
});

t.test('anything else is a DurationSyntaxError naming the text', async (t) => {
  for (const text of ['', 'abc', '-5s', '5x', 's', '1h 30m', '10 s', '5sm', 'Infinity', '1e3']) {
    const error = t.throws(() => parseDuration(text), DurationSyntaxError, text) as unknown;
    t.equal((error as Error).message, `expected a duration such as 90s, 5m, 1h30m or a number of seconds, not ${JSON.stringify(text)}`);
  }
});

t.test('durations print short', async (t) => {
  t.equal(formatDuration(12_000), '12s');
  t.equal(formatDuration(90_000), '1m30s');
  t.equal(formatDuration(3_600_000), '1h');
  t.equal(formatDuration(250), '250ms');
  t.equal(formatDuration(0), '0ms');
});
