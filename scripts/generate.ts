/**
 * `npm run generate` writes every generated file; `npm run check:generated` (--check) fails when a
 * committed file differs from what its source generates (the drift check CI runs).
 * Each generating folder exports `generatedFiles()`: the files it owns, with their full content.
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { generatedFiles as alertFiles } from '../alerts';
import { generatedFiles as dashboardFiles } from '../dashboards';
import { generatedFiles as kubernetesFiles } from '../kubernetes';

export interface GeneratedFile {
  /** Path relative to the repository root. */
  readonly path: string;
  readonly content: string;
}

const root = join(__dirname, '..');

function main(): void {
  const check = process.argv.includes('--check');
  const files: GeneratedFile[] = [...alertFiles(), ...dashboardFiles(), ...kubernetesFiles()];
  const drift: string[] = [];
  for (const file of files) {
    const target = join(root, file.path);
    const current = existsSync(target) ? readFileSync(target, 'utf8') : undefined;
    if (current === file.content) continue;
    if (check) {
      drift.push(
        `${relative(root, target)}: ${current === undefined ? 'missing' : 'differs from its source'}`,
      );
    } else {
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, file.content);
      console.log(`wrote ${file.path}`);
    }
  }
  if (drift.length > 0) {
    console.error(
      `Generated files drifted from their sources (run \`npm run generate\`):\n  ${drift.join('\n  ')}`,
    );
    process.exit(1);
  }
  console.log(
    check ? `${files.length} generated files match their sources.` : `${files.length} files generated.`,
  );
}

main();
