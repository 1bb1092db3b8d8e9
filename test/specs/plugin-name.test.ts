import t from 'tap';
import { checkPluginName, type PluginNameRule } from '../../specs/csi/index.js';

const cases: [string, PluginNameRule[]][] = [
  ['dir-volume.csi.kubeplug.io', []],
  ['hostpath.csi.k8s.io', []],
  ['9p.example.com', []],
  ['a', []],
  [`${'a'.repeat(63)}`, []],
  ['', ['required']],
  [`${'a'.repeat(64)}`, ['length']],
  ['dir_volume.kubeplug.io', ['characters']],
  ['-dir.kubeplug.io', ['characters', 'labels']],
  ['dir.kubeplug.io.', ['characters', 'labels']],
  ['dir..kubeplug.io', ['labels']],
  ['dir-.kubeplug.io', ['labels']],
  ['dir volume', ['characters']],
  ['dïr.kubeplug.io', ['characters']],
];

for (const [name, rules] of cases) {
  t.test(`${JSON.stringify(name)} breaks ${rules.length === 0 ? 'no rule' : rules.join(' and ')}`, async (t) => {
    t.same(
      checkPluginName(name).map((problem) => problem.rule),
      rules,
    );
  });
}
