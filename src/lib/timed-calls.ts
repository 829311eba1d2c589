/**
 * `target` with some of its methods timed: `start(method)` is called as each named method is
 * called and returns what ends the measure, called when the method returns (or its promise
 * settles). Everything else passes through. The agent times its drivers this way and the server
 * its state backend.
 */
export function timeCalls<T extends object>(target: T, methods: ReadonlySet<string | symbol>, start: (method: string) => () => void): T {
  return new Proxy(target, {
    get(t, prop) {
      const value: unknown = Reflect.get(t, prop, t);
      if (typeof value !== 'function') return value;
      const fn = value as (...args: unknown[]) => unknown;
      if (!methods.has(prop)) return fn.bind(t);
      return (...args: unknown[]): unknown => {
        const done = start(String(prop));
        const result = fn.apply(t, args);
        return result instanceof Promise ? result.finally(() => done()) : (done(), result);
      };
    },
  });
}
