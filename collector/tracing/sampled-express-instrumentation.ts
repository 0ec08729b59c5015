/**
 * The express instrumentation, run only for requests that have a span. Out of the box it wraps
 * every layer's handle in a function that first does its per-layer bookkeeping (layer path store,
 * route reconstruction, metadata, RPC route) and only then checks whether there is a span to make:
 * an unsampled request (nine in ten at the default ratio, see request-sampler.ts) paid all of it on
 * every layer it passed through (bench:stack profile: ~25 µs of a PHI read). Here each wrapped
 * handle is fronted by a check for a span: without one, the layer's own handle runs directly, which
 * is what the wrapper would have ended up doing; with one, the instrumentation's wrapper runs as before.
 */
import { context, trace } from '@opentelemetry/api';
import {
  ExpressInstrumentation,
  type ExpressInstrumentationConfig,
} from '@opentelemetry/instrumentation-express';

type Handle = ((...args: unknown[]) => unknown) & { __original?: Handle; [key: string]: unknown };
interface Layer {
  handle: Handle;
}
/** `_applyPatch` is private in the typings; it is what every router/app `use` and `route` calls. */
interface Patching {
  _applyPatch(layer: Layer, layerPath?: string): void;
}

/** The layer's handle, calling the instrumentation's wrapper only when a span is active. */
function spanGated(wrapped: Handle, original: Handle): Handle {
  // Three parameters, like the handles it fronts: Express tells error handlers (4) by their arity.
  const handle = function (this: unknown, _req: unknown, _res: unknown, _next: unknown): unknown {
    const target = trace.getSpan(context.active()) === undefined ? original : wrapped;
    // eslint-disable-next-line prefer-rest-params
    return target.apply(this, arguments as unknown as unknown[]);
  } as Handle;
  // A router's handle carries its stack and params: read and written through, as the wrapper does.
  for (const key in original) {
    Object.defineProperty(handle, key, {
      get: () => original[key],
      set: (value: unknown) => {
        original[key] = value;
      },
    });
  }
  handle.__original = original;
  return handle;
}

export class SampledExpressInstrumentation extends ExpressInstrumentation {
  constructor(config: ExpressInstrumentationConfig = {}) {
    super(config);
    const self = this as unknown as Patching;
    const applyPatch = self._applyPatch.bind(this);
    self._applyPatch = (layer, layerPath) => {
      const before = layer.handle;
      applyPatch(layer, layerPath);
      const wrapped = layer.handle;
      // Unchanged: already patched, or an error handler (the instrumentation leaves those alone).
      if (wrapped === before || wrapped.__original !== before) return;
      layer.handle = spanGated(wrapped, before);
    };
  }
}
