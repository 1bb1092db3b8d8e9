import type { InterfaceName } from '../specs/registry/index.js';

/** The declared cases of an interface's suite, by ID and title only. */
export type DeclaredCases = readonly { readonly ids: readonly string[]; readonly title: string }[];

/**
 * Loads the cases each built suite declares; an interface whose suite does
 * not exist yet has none. Imported lazily so commands that need no suite
 * start fast.
 */
export async function declaredCasesOf(iface: InterfaceName): Promise<DeclaredCases> {
  switch (iface) {
    case 'csi': {
      const { createCsiSuite } = await import('../conformance/csi/index.js');
      return createCsiSuite().cases;
    }
    case 'cni': {
      const { createCniSuite } = await import('../conformance/cni/index.js');
      return createCniSuite().cases;
    }
    case 'cri': {
      const { createCriSuite } = await import('../conformance/cri/index.js');
      return createCriSuite().cases;
    }
    case 'kubelet': {
      const { createKubeletSuite } = await import('../conformance/kubelet/index.js');
      return createKubeletSuite().cases;
    }
  }
}
