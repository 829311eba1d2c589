// Module resolve hooks (node:module register) that report every ES module a process resolves,
// with the module that imported it, to the port record-modules.js hands over.
let port;

export function initialize(data) {
  port = data.port;
}

export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  port.postMessage({ url: result.url, parent: context.parentURL ?? null });
  return result;
}
