/**
 * JSON schemas (TypeBox) for the request bodies the server validates with fastify's ajv. Job specs
 * are not here: jobspec/ validates them, with a path for every problem.
 */
import { Type, type Static } from '@sinclair/typebox';

const DriverInfo = Type.Object(
  { detected: Type.Boolean(), healthy: Type.Boolean(), version: Type.Optional(Type.String()), detail: Type.Optional(Type.String()), bridgeAddress: Type.Optional(Type.String()), engineId: Type.Optional(Type.String()) },
  { additionalProperties: false },
);

const Driver = Type.Union([Type.Literal('docker'), Type.Literal('process')]);

export const NodeRegisterSchema = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$' }),
    name: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_.-]+$' }),
    datacenter: Type.String({ minLength: 1, maxLength: 64 }),
    address: Type.String({ minLength: 1, maxLength: 256 }),
    httpAddr: Type.String({ maxLength: 256 }),
    attributes: Type.Record(Type.String(), Type.String()),
    drivers: Type.Object({ docker: Type.Optional(DriverInfo), process: Type.Optional(DriverInfo) }, { additionalProperties: false }),
    defaultDriver: Driver,
    resources: Type.Object({ cpu: Type.Number({ exclusiveMinimum: 0 }), memoryMiB: Type.Number({ exclusiveMinimum: 0 }) }, { additionalProperties: false }),
    portRange: Type.Object({ min: Type.Integer({ minimum: 1, maximum: 65535 }), max: Type.Integer({ minimum: 1, maximum: 65535 }) }, { additionalProperties: false }),
    nodeClass: Type.Optional(Type.String({ maxLength: 128, pattern: '^[A-Za-z0-9_.-]*$' })),
    meta: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z0-9_.-]+$', maxLength: 128 }), Type.String({ maxLength: 1024 }))),
  },
  { additionalProperties: false },
);
export type NodeRegisterBody = Static<typeof NodeRegisterSchema>;

const TaskEvent = Type.Object({ time: Type.Number(), type: Type.String(), message: Type.String() }, { additionalProperties: false });

const TaskState = Type.Object(
  {
    state: Type.Union([Type.Literal('pending'), Type.Literal('running'), Type.Literal('dead')]),
    failed: Type.Boolean(),
    restarts: Type.Integer({ minimum: 0 }),
    startedAt: Type.Optional(Type.Number()),
    finishedAt: Type.Optional(Type.Number()),
    exitCode: Type.Optional(Type.Integer()),
    driver: Type.Optional(Driver),
    network: Type.Optional(Type.Object({ ip: Type.String({ minLength: 1, maxLength: 64 }), autoAdvertise: Type.Boolean() }, { additionalProperties: false })),
    events: Type.Array(TaskEvent, { maxItems: 100 }),
  },
  { additionalProperties: false },
);

export const AllocUpdateSchema = Type.Object(
  {
    allocs: Type.Array(
      Type.Object(
        {
          id: Type.String({ minLength: 1 }),
          clientStatus: Type.Union([Type.Literal('pending'), Type.Literal('running'), Type.Literal('complete'), Type.Literal('failed'), Type.Literal('lost')]),
          clientDescription: Type.Optional(Type.String({ maxLength: 4096 })),
          taskStates: Type.Record(Type.String(), TaskState),
        },
        { additionalProperties: false },
      ),
      { maxItems: 10_000 },
    ),
  },
  { additionalProperties: false },
);
export type AllocUpdateBody = Static<typeof AllocUpdateSchema>;

/** `?index=&wait=` of blocking queries. */
export const BlockingQuerySchema = Type.Object({
  index: Type.Optional(Type.Integer({ minimum: 0 })),
  wait: Type.Optional(Type.String({ pattern: '^[0-9]+(ms|s|m)?$' })),
});

/** The largest request body a server takes (a job spec, a KV value is smaller still): 4 MiB. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

/**
 * The largest message an exec WebSocket takes (server and agent), 1 MiB: a stdin chunk is at most
 * 64 KiB before base64; a larger frame closes the socket (1009) instead of being buffered whole.
 */
export const MAX_EXEC_MESSAGE_BYTES = 1024 * 1024;
