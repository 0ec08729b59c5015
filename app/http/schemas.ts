/** Shared zod pieces of the API's inputs. */
import { z } from 'zod';
import { CURRENCIES } from '../collector-api';

/**
 * A UUID in its canonical lower-case form. PostgreSQL and `z.uuid()` accept either case, but the id is
 * also text elsewhere: the PHI cipher's associated data, the owner check against the token's patient,
 * the events' pseudonyms. One spelling per id keeps those equal to the stored row's.
 */
export const uuid = z.uuid().transform((v) => v.toLowerCase());
export const idParams = z.object({ id: uuid }).strict();
/**
 * A body's `patientId` alone (the rest is let through): read first, so that the caller is
 * authorised for the patient before the rest of the body is judged. A forbidden caller gets 403
 * and is reported, whatever else the body holds.
 */
export const patientOfBody = z.object({ patientId: uuid }).loose();
export const currency = z.enum(CURRENCIES);
/** Integer minor units (cents), bounded well inside 2^53. */
export const MAX_MINOR_UNITS = 100_000_000_00;
export const minorUnits = z.int().min(1).max(MAX_MINOR_UNITS);
export const limit = z.coerce.number().int().min(1).max(100).default(50);
/** C0 control characters and DEL; `multiline` allows LF. Written with char codes: no-control-regex. */
const hasControl = (v: string, allowLf: boolean) => {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if ((c < 0x20 && !(allowLf && c === 0x0a)) || c === 0x7f) return true;
  }
  return false;
};

/**
 * A lone UTF-16 surrogate (JSON allows `"\ud83d"`): no character, and UTF-8 (the cipher's input)
 * cannot hold it, so it would be stored as U+FFFD and read back as something other than was sent.
 */
const LONE_SURROGATE = /\p{Cs}/u;

/** Printable text without control characters (no CR/LF to forge log lines downstream). */
export const text = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .refine((v) => !hasControl(v, false), 'must not contain control characters')
    .refine((v) => !LONE_SURROGATE.test(v), 'must be valid Unicode text');
export const multiline = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .refine((v) => !hasControl(v, true), 'must not contain control characters')
    .refine((v) => !LONE_SURROGATE.test(v), 'must be valid Unicode text');
