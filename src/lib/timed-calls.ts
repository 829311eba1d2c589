/**
 * `target` with some of its methods timed: `start(method)` is called as each named method is
 * called and returns what ends the measure, called when the method returns (or its promise
 * settles). Everything else passes through. The agent times its drivers this way and the server
 * its state backend, whose calls are the hot path: each method's wrapper (or bound function) is
 * made once and kept, not again on every call.
 */
export function timeCalls<T extends object>(target: T, methods: ReadonlySet<string | symbol>, start: (method: string) => () => void): T {
  const made = new Map<string | symbol, { fn: (...args: unknown[]) => unknown; wrapper: (...args: unknown[]) => unknown }>();
  const wrap = (prop: string | symbol, fn: (...args: unknown[]) => unknown): ((...args: unknown[]) => unknown) => {
    if (!methods.has(prop)) return fn.bind(target);
    return (...args: unknown[]): unknown => {
      const done = start(String(prop));
      const result = fn.apply(target, args);
      return result instanceof Promise ? result.finally(() => done()) : (done(), result);
    };
  };
  return new Proxy(target, {
    get(t, prop) {
      const value: unknown = Reflect.get(t, prop, t);
      if (typeof value !== 'function') return value;
      const fn = value as (...args: unknown[]) => unknown;
      const kept = made.get(prop);
      if (kept?.fn === fn) return kept.wrapper;
      const wrapper = wrap(prop, fn);
      made.set(prop, { fn, wrapper });
      return wrapper;
    },
  });
}
