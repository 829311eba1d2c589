/**
 * fastify's own request validation (Ajv through @fastify/ajv-compiler), compiled when a route first
 * needs it rather than at start-up. Loading Ajv and compiling every route's schemas took about a
 * quarter of the time from `berth dev` to its API answering (bench/cli.ts); each route now pays
 * its own compile, a few ms, on its first request, and a route never called never pays.
 */
import { createRequire } from 'node:module';
import type { FastifyServerOptions } from 'fastify';

/** What fastify hands a validator compiler: one part (body, querystring, params) of one route. */
interface RouteSchema {
  schema: unknown;
  method: string;
  url: string;
  httpPart?: string;
}
type Validate = ((data: unknown, ctx?: unknown) => unknown) & { errors?: unknown; schemaEnv?: unknown };
type Compile = (route: RouteSchema) => Validate;
type BuildValidator = (externalSchemas: unknown, ajvOptions: unknown) => Compile;

const require = createRequire(import.meta.url);

const lazyBuildValidator: BuildValidator = (externalSchemas, ajvOptions) => {
  let compiler: Compile | undefined;
  return (route) => {
    let validate: Validate | undefined;
    const real = (): Validate => {
      if (!compiler) {
        const { AjvCompiler } = require('@fastify/ajv-compiler') as { AjvCompiler: () => BuildValidator };
        compiler = AjvCompiler()(externalSchemas, ajvOptions);
      }
      return (validate ??= compiler(route));
    };
    const lazy: Validate = (data, ctx) => real()(data, ctx);
    // fastify reads `errors` after a failed call, and passes the parent object (so that Ajv can
    // coerce a root value) only to a function that has `schemaEnv`: both must be the real ones.
    Object.defineProperty(lazy, 'errors', { get: () => real().errors });
    Object.defineProperty(lazy, 'schemaEnv', { get: () => real().schemaEnv });
    return lazy;
  };
};

type SchemaController = NonNullable<FastifyServerOptions['schemaController']>;

/** The `schemaController` option that defers validation compiles. */
export const lazySchemaController: SchemaController = {
  // fastify types the factory as the union of its Ajv and JTD-serializer shapes; this is the Ajv one.
  compilersFactory: { buildValidator: lazyBuildValidator as unknown as NonNullable<SchemaController['compilersFactory']>['buildValidator'] },
};
