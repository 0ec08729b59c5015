import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { CHAIN_HEAD_FILE, readChainHead, writeChainHead } from '../../collector/chain-head-file';
import { tempDir } from './helpers';

describe('the stored audit chain head', () => {
  let tmp: { dir: string; remove(): void };
  beforeEach(() => (tmp = tempDir('chain-head')));
  afterEach(() => tmp.remove());

  it('is none before the first verification, and what was written after', async () => {
    expect(await readChainHead(tmp.dir)).toEqual({ head: undefined });
    const head = { seq: 42, hash: 'ab'.repeat(32) };
    await writeChainHead(tmp.dir, head);
    await writeChainHead(tmp.dir, { seq: 43, hash: 'cd'.repeat(32) });
    expect(await readChainHead(tmp.dir)).toEqual({ head: { seq: 43, hash: 'cd'.repeat(32) } });
  });

  it.each([
    ['not JSON', '{"seq": 4'],
    ['a negative seq', JSON.stringify({ seq: -1, hash: 'ab'.repeat(32) })],
    ['a fractional seq', JSON.stringify({ seq: 1.5, hash: 'ab'.repeat(32) })],
    ['a short hash', JSON.stringify({ seq: 3, hash: 'abc' })],
    ['an upper-case hash', JSON.stringify({ seq: 3, hash: 'AB'.repeat(32) })],
  ])('is reported malformed, not trusted, when it holds %s', async (_what, text) => {
    writeFileSync(path.join(tmp.dir, CHAIN_HEAD_FILE), text);
    expect(await readChainHead(tmp.dir)).toEqual({ head: undefined, problem: 'malformed' });
  });
});
