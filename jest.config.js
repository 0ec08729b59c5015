/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } } }] },
  testTimeout: 30000,
  // Tests that start servers or databases run in parallel workers; two cores here.
  maxWorkers: 2,
  // A worker asked to end reaches its 'exit' event within a millisecond (no handle, timer or worker
  // thread left), then spends 0.4-0.6 s in Node's native teardown (its main thread running) on
  // this loaded 2-core machine. Jest's default grace of 0.5 s then killed it and printed "A worker
  // process has failed to exit gracefully", a leak warning for what is not a leak (seen with a probe
  // of the worker's threads at the kill: the main thread running, every other thread idle). A real
  // leak (a handle left open) still holds a worker past this grace and is still reported.
  workerGracefulExitTimeout: 5000,
};
