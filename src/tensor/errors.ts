// The tensor layer's own error: libtorch rejecting an operation (the base classes live in src/errors.ts).
import { BfpoError } from '../errors.js';

/**
 * Raised when libtorch rejects an operation. `op` names the operation, `inputs` describes its arguments
 * (dtypes and shapes), `detail` is libtorch's own message.
 */
export class TorchError extends BfpoError {
  op = '';
  inputs = '';
  detail = '';
}
