/** The CSI specification version kubeplug's contract and suite restate. */
export const csiSpecVersion = '1.12.0';
