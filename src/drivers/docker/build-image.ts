/**
 * Building an image through the Engine API (`POST /build`): the context directory tarred by
 * dockerode (tar-fs, with the context's `.dockerignore` applied), the engine's output followed to
 * its end. What `berth compose up` runs for a service with `build` on a one-node target.
 */
import fs from 'node:fs';
import type Docker from 'dockerode';
import { dockerMessage } from './docker-host.ts';

/** What to build, as Compose's `build` says it. */
export interface BuildRequest {
  /** The context directory (absolute). */
  context: string;
  /** The tag the image gets. */
  tag: string;
  /** The Dockerfile, relative to the context. Default `Dockerfile`. */
  dockerfile?: string;
  /** Build arguments (`ARG`). */
  args?: Record<string, string>;
  /** The stage to build. */
  target?: string;
}

/** Builds the image on the engine; rejects with the engine's error (a failing step, a missing base image). */
export async function buildImage(docker: Docker, request: BuildRequest): Promise<void> {
  const { context, tag } = request;
  if (!fs.existsSync(context) || !fs.statSync(context).isDirectory()) throw new Error(`the build context ${context} is not a directory`);
  const options: Record<string, unknown> = { t: tag, rm: true };
  if (request.dockerfile) options.dockerfile = request.dockerfile;
  if (request.args && Object.keys(request.args).length > 0) options.buildargs = request.args;
  if (request.target) options.target = request.target;
  let stream: NodeJS.ReadableStream;
  try {
    stream = await docker.buildImage({ context, src: fs.readdirSync(context) }, options);
  } catch (error) {
    throw new Error(dockerMessage(error));
  }
  const output: string[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    for (const line of chunk.toString().split('\n')) {
      if (line.trim() === '') continue;
      let event: { stream?: string; error?: string; errorDetail?: { message?: string } };
      try {
        event = JSON.parse(line) as typeof event;
      } catch {
        continue;
      }
      if (event.stream) output.push(event.stream.trimEnd());
      if (event.error || event.errorDetail) throw new Error(`${event.errorDetail?.message ?? event.error}${output.length ? `\n${output.slice(-5).join('\n')}` : ''}`);
    }
  }
}
