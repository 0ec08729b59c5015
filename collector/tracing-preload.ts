/**
 * Preload: `node --require ./dist/collector/tracing-preload.js dist/app/main.js` (or
 * `tsx --require ./collector/tracing-preload.ts ...`). It must run before express, http and pg
 * are loaded, or they are not instrumented; it therefore imports only collector/tracing.
 * The app's graceful shutdown should await shutdownTracing(); beforeExit is a fallback.
 */
import { shutdownTracing, startTracing } from './tracing';

const state = startTracing({
  serviceName: process.env.npm_package_name || 'telehealth-service',
  serviceVersion: process.env.npm_package_version,
});
if (state.sampler?.warning) process.emitWarning(`tracing: ${state.sampler.warning}`);
if (state.started) {
  process.once('beforeExit', () => {
    void shutdownTracing();
  });
}
