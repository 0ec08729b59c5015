#!/usr/bin/env node
/**
 * The npm registry reachable from this project's machines serves only the Linux x64 builds of
 * packages with per-platform optional dependencies (@swc/core-*, @unrs/resolver-binding-*, …).
 * `npm install` then leaves those optional packages out of package-lock.json, and `npm ci` refuses
 * the lock as out of sync. This adds an entry for each missing optional package with its platform
 * (`os`/`cpu`), which npm skips on any other platform. Idempotent; run after `npm install`
 * (`.ci/run` runs it before `npm ci`). `--check` exits 1 when entries are missing.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const file = path.join(__dirname, '..', 'package-lock.json');
const lock = JSON.parse(fs.readFileSync(file, 'utf8'));
const packages = lock.packages;
const OS = /(darwin|linux|win32|android|freebsd|openbsd|netbsd|openharmony|sunos|aix)/;
const CPU = /(arm64|x64|ia32|arm|ppc64|s390x|riscv64|loong64|wasm32|mips64el)/;
const added = [];
for (const [where, meta] of Object.entries(packages)) {
  for (const [name, spec] of Object.entries(meta.optionalDependencies || {})) {
    const nested = `${where === '' ? '' : `${where}/`}node_modules/${name}`;
    const top = `node_modules/${name}`;
    if (packages[nested] || packages[top]) continue;
    const os = OS.exec(name);
    const cpu = CPU.exec(name);
    packages[top] = {
      version: String(spec).replace(/^[\^~=]/, ''),
      optional: true,
      ...(os ? { os: [os[1]] } : {}),
      ...(cpu ? { cpu: [cpu[1]] } : {}),
    };
    added.push(name);
  }
}
if (process.argv.includes('--check')) {
  if (added.length > 0) {
    console.error(
      `package-lock.json lacks ${added.length} optional platform entries: run node ${path.relative(process.cwd(), __filename)}`,
    );
    process.exit(1);
  }
  process.exit(0);
}
if (added.length > 0) fs.writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`lockfile: ${added.length} optional platform entries added`);
