/** The platform an image index entry is for (OCI image-spec image-index.md "platform"). */
export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string | undefined;
}

// Node's process.arch spellings to GOARCH spellings, which image indexes use.
const goArchOf: Readonly<Record<string, string>> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loong64',
  mips: 'mips',
  mipsel: 'mipsle',
};

/** The platform this process runs on, as an image index names it. */
export function hostPlatform(): Platform {
  const architecture = goArchOf[process.arch] ?? process.arch;
  if (architecture === 'arm64') return { os: 'linux', architecture, variant: 'v8' };
  if (architecture === 'arm') {
    const armVersion = (process.config.variables as Record<string, unknown>).arm_version;
    return { os: 'linux', architecture, variant: `v${typeof armVersion === 'string' || typeof armVersion === 'number' ? armVersion : '7'}` };
  }
  return { os: 'linux', architecture };
}

/**
 * How well `candidate` fits `wanted`: undefined when it does not run there,
 * else a rank where lower is better (exact variant first, then the closest
 * older arm variant, which still runs), as containerd's platform matcher orders them.
 */
export function platformRank(candidate: Platform, wanted: Platform): number | undefined {
  if (candidate.os !== wanted.os || candidate.architecture !== wanted.architecture) return undefined;
  const candidateVariant = normalizeVariant(candidate);
  const wantedVariant = normalizeVariant(wanted);
  if (candidateVariant === wantedVariant) return 0;
  if (candidateVariant === '') return 1;
  if (wanted.architecture === 'arm') {
    const have = Number(candidateVariant.slice(1));
    const want = Number(wantedVariant.slice(1));
    if (Number.isInteger(have) && Number.isInteger(want) && have < want) return 1 + (want - have);
  }
  return undefined;
}

function normalizeVariant(platform: Platform): string {
  const variant = platform.variant ?? '';
  // arm64 without a variant means v8, as containerd normalizes it.
  if (platform.architecture === 'arm64' && variant === '') return 'v8';
  return variant;
}
