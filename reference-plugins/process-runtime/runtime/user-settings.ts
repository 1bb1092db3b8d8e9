import { GrpcStatusError } from '../../../specs/cri/index.js';
import { ContainerUserError, validateUserSettings } from '../oci/container-user.js';

/**
 * Refuses a security context that names a group without a user, before
 * anything is set up for the sandbox or container it belongs to.
 * @see CRI-SANDBOX-028
 * @see CRI-CONTAINER-041
 * @throws GrpcStatusError INVALID_ARGUMENT naming the field
 */
export function refuseInvalidUserSettings(field: string, context: Parameters<typeof validateUserSettings>[0] | undefined): void {
  if (context === undefined) return;
  try {
    validateUserSettings(context);
  } catch (error) {
    if (error instanceof ContainerUserError) throw new GrpcStatusError({ code: 'INVALID_ARGUMENT', message: `${field}: ${error.message}`, cause: error });
    throw error;
  }
}
