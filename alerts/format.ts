/**
 * Generated files must pass `prettier --check` (CI lints the repository), so they are written the way
 * prettier would write them. Prettier 3's API is asynchronous and generatedFiles() is not: one child
 * process formats the whole batch, skipping paths .prettierignore excludes.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export const REPO_ROOT = join(__dirname, '..');

const SCRIPT = `
const prettier = require('prettier');
const path = require('node:path');
let input = '';
process.stdin.on('data', (c) => (input += c));
process.stdin.on('end', async () => {
  const files = JSON.parse(input);
  const root = process.argv[1];
  const out = [];
  for (const f of files) {
    const abs = path.join(root, f.path);
    const info = await prettier.getFileInfo(abs, { ignorePath: path.join(root, '.prettierignore') });
    if (info.ignored || !info.inferredParser) { out.push(f); continue; }
    const options = (await prettier.resolveConfig(abs)) || {};
    out.push({ path: f.path, content: await prettier.format(f.content, { ...options, filepath: abs }) });
  }
  process.stdout.write(JSON.stringify(out));
});
`;

export function formatWithPrettier<T extends { path: string; content: string }>(files: T[]): T[] {
  const output = execFileSync(process.execPath, ['-e', SCRIPT, REPO_ROOT], {
    input: JSON.stringify(files.map((f) => ({ path: f.path, content: f.content }))),
    cwd: REPO_ROOT,
    maxBuffer: 64 * 1024 * 1024,
  }).toString('utf8');
  const formatted = JSON.parse(output) as Array<{ path: string; content: string }>;
  return files.map((f, i) => ({ ...f, content: formatted[i]!.content }));
}
