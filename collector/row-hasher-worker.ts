/**
 * The hashing worker's thread (started by row-hasher.ts): builds a batch's COPY text and chain off
 * the collector's event loop, whose thread validation, spooling and requests keep busy.
 */
import { parentPort } from 'node:worker_threads';
import { appendCopyLines, copyBatchText, startCopyBatch } from './copy-batch';
import type { HashRequest, HashResponse } from './row-hasher';

parentPort?.on('message', (m: HashRequest) => {
  let reply: HashResponse;
  try {
    const b = startCopyBatch(m.rows.length, m.headSeq, m.headHashHex, m.recordedMs);
    appendCopyLines(b, m.rows, 0, m.rows.length);
    const text = copyBatchText(b);
    // A buffer of its own (not a slice of the pool), so that it can be transferred without a copy.
    const out = new Uint8Array(new ArrayBuffer(text.length));
    out.set(text);
    reply = { id: m.id, ok: true, copy: out, endSeq: b.seq, endHashHex: b.prevHex };
  } catch {
    reply = { id: m.id, ok: false };
  }
  parentPort?.postMessage(reply, reply.ok ? [reply.copy.buffer as ArrayBuffer] : []);
});
