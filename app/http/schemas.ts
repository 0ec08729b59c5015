/** Shared zod pieces of the API's inputs. */
import { z } from 'zod';
import { CURRENCIES } from '../collector-api';

export const uuid = z.uuid();
export const idParams = z.object({ id: uuid }).strict();
export const currency = z.enum(CURRENCIES);
/** Integer minor units (cents), bounded well inside 2^53. */
export const minorUnits = z.int().min(1).max(100_000_000_00);
export const limit = z.coerce.number().int().min(1).max(100).default(50);
/** C0 control characters and DEL; `multiline` allows LF. Written with char codes: no-control-regex. */
const hasControl = (v: string, allowLf: boolean) => {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if ((c < 0x20 && !(allowLf && c === 0x0a)) || c === 0x7f) return true;
  }
  return false;
};

/** Printable text without control characters (no CR/LF to forge log lines downstream). */
export const text = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .refine((v) => !hasControl(v, false), 'must not contain control characters');
export const multiline = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .refine((v) => !hasControl(v, true), 'must not contain control characters');
