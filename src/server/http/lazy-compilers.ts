/**
 * fastify's own schema compilers (Ajv through @fastify/ajv-compiler for requests,
 * fast-json-stringify for responses), loaded and run when a route first needs them rather than
 * at start-up. Loading them and compiling every route's schemas took about a quarter of the time
 * from `berth dev` to its API answering (bench/cli.ts); now each route pays its own compile, a few
 * ms, on its first request, and a route never called never pays.
 */
import { createRequire } from 'node:module';
import type { FastifyServerOptions } from 'fastify';

/** What fastify hands a compiler: one part (body, querystring, params, a response) of one route. */
interface RouteSchema {
  schema: unknown;
  method: string;
  url: string;
}
type Validate = ((data: unknown, ctx?: unknown) => unknown) & { errors?: unknown; schemaEnv?: unknown };
type Serialize = (data: unknown) => string;
/** A compiler factory as fastify calls it: (shared schemas, options) => (route part) => function. */
type Factory<F> = (externalSchemas: unknown, options: unknown) => (route: RouteSchema) => F;

// Synchronous: fastify builds a route's compiler inside a synchronous call.
const requireCjs = createRequire(import.meta.url);

/** `load()`'s factory, called once on first use, its compiler once per route part on first use. */
function deferred<F>(load: () => Factory<F>, externalSchemas: unknown, options: unknown): (route: RouteSchema) => () => F {
  let compiler: ((route: RouteSchema) => F) | undefined;
  return (route) => {
    let fn: F | undefined;
    return () => (fn ??= (compiler ??= load()(externalSchemas, options))(route));
  };
}

const buildValidator: Factory<Validate> = (externalSchemas, options) => {
  const compile = deferred(() => (requireCjs('@fastify/ajv-compiler') as { AjvCompiler: () => Factory<Validate> }).AjvCompiler(), externalSchemas, options);
  return (route) => {
    const real = compile(route);
    const lazy: Validate = (data, ctx) => real()(data, ctx);
    // fastify reads `errors` after a failed call, and passes the parent object (so that Ajv can
    // coerce a root value) only to a function that has `schemaEnv`: both must be the real ones.
    Object.defineProperty(lazy, 'errors', { get: () => real().errors });
    Object.defineProperty(lazy, 'schemaEnv', { get: () => real().schemaEnv });
    return lazy;
  };
};

const buildSerializer: Factory<Serialize> = (externalSchemas, options) => {
  const compile = deferred(() => (requireCjs('@fastify/fast-json-stringify-compiler') as { SerializerSelector: () => Factory<Serialize> }).SerializerSelector(), externalSchemas, options);
  return (route) => {
    const real = compile(route);
    return (data) => real()(data);
  };
};

type SchemaController = NonNullable<FastifyServerOptions['schemaController']>;
type Compilers = NonNullable<SchemaController['compilersFactory']>;

/** The `schemaController` option that defers schema compiles to first use. */
export const lazySchemaController: SchemaController = {
  // fastify types each factory as a union of Ajv and JTD shapes; these are the default ones.
  compilersFactory: {
    buildValidator: buildValidator as unknown as Compilers['buildValidator'],
    buildSerializer: buildSerializer as unknown as Compilers['buildSerializer'],
  },
};
