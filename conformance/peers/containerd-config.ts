import path from 'node:path';

/** What a containerd node's config.toml says. */
export interface ContainerdConfigInput {
  /** The node's folder: root, state, temp and the socket go under it. */
  readonly dir: string;
  readonly socketPath: string;
  readonly sandboxImage: string;
  readonly snapshotter: 'overlayfs' | 'native';
  readonly cniBinDir: string;
  readonly cniConfDir: string;
  /** Registry hosts (`127.0.0.1:PORT`) pulled from over plain http. */
  readonly plainHttpRegistries: readonly string[];
}

function tomlString(value: string): string {
  // A JSON string of printable text is a valid TOML basic string.
  return JSON.stringify(value);
}

/**
 * A containerd 1.6 config (version 2) with the CRI plugin required and
 * everything that would touch the machine outside the node's folder turned
 * off. Keys as in containerd v1.6.20 docs/cri/config.md.
 */
export function containerdConfig(input: ContainerdConfigInput): string {
  const { dir } = input;
  // containerd 1.6's CRI plugin reaches a registry over http only through a mirror whose endpoint says http.
  const mirrors = input.plainHttpRegistries
    .map((host) => `\n[plugins."io.containerd.grpc.v1.cri".registry.mirrors.${tomlString(host)}]\n  endpoint = [${tomlString(`http://${host}`)}]\n`)
    .join('');
  return `version = 2
root = ${tomlString(path.join(dir, 'root'))}
state = ${tomlString(path.join(dir, 'state'))}
temp = ${tomlString(path.join(dir, 'temp'))}
# Exit instead of serving without CRI, so a broken set-up fails fast with the reason in the log.
required_plugins = ["io.containerd.grpc.v1.cri"]
# opt would create /opt/containerd on the machine; the other snapshotters and tracing are not used.
disabled_plugins = [
  "io.containerd.internal.v1.opt",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = ${tomlString(input.socketPath)}

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = ${tomlString(input.sandboxImage)}
  # Loading a profile would change the machine's AppArmor state.
  disable_apparmor = true
  # Without it runc writes oom_score_adj -998 for the sandbox, which needs CAP_SYS_RESOURCE that CI containers often lack.
  restrict_oom_score_adj = true
  # Pod netns mounts go under state (in the node's private mount namespace), not the machine's /var/run/netns.
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = ${tomlString(input.snapshotter)}
  default_runtime_name = "runc"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = ${tomlString(input.cniBinDir)}
  conf_dir = ${tomlString(input.cniConfDir)}
  max_conf_num = 1
${mirrors}`;
}
