/** The HTTP API: the app (built without listening), its routes, leader forwarding. */
export { buildApp } from './app.ts';
export type { BrowserGuardOptions } from './browser-guard.ts';
