/** Container ids follow runc's rule: letters, digits, "_", "+", "-", "."; never "." or "..". */
import { TsruncError } from '../errors.js';

const ID_PATTERN = /^[\w+.-]+$/;

export function validateId(id: string): void {
  if (id === '') throw new TsruncError('container id cannot be empty');
  if (!ID_PATTERN.test(id) || id === '.' || id === '..') {
    throw new TsruncError(`invalid container id format: "${id}"`);
  }
}
