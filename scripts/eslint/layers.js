// The layer rule of docs/ARCHITECTURE.md as an ESLint rule: a file under src/<layer>/ may import
// another layer only through that layer's index.ts, and only a layer its row below allows.
// It resolves each relative import against the file, so `../context.ts` inside server/http is
// the same layer while `../../state/store.ts` is a reach inside another one. Files under test/
// and bench/ may compose any layers, but through their entry files only, like src/ tests.
import path from 'node:path';

/**
 * Folders whose sub-folders are layers of their own, each with its own index.ts: the agent may use
 * the check runners without loading the catalog (and through it the state backends).
 */
export const SUBLAYERS = { discovery: ['catalog', 'checks', 'dns'] };

/** Who may import whom. `model` and `lib` are open to all layers except lib itself. */
export const ALLOWED = {
  lib: [],
  model: ['lib'],
  api: ['model', 'lib'],
  jobspec: ['model', 'lib'],
  scheduler: ['model', 'lib'],
  state: ['model', 'lib'],
  drivers: ['model', 'lib'],
  kv: ['state', 'model', 'lib'],
  'discovery/checks': ['model', 'lib'],
  // The catalog runs the checks of external services itself (ExternalChecks) and shares the
  // check ids of allocations with the agent (checks/alloc-checks.ts).
  'discovery/catalog': ['discovery/checks', 'state', 'model', 'lib'],
  'discovery/dns': ['discovery/catalog', 'model', 'lib'],
  testing: ['scheduler', 'state', 'model', 'lib'],
  // TLS: certificates made, read and reloaded; the server, agent and CLI serve and call with it.
  tls: ['model', 'lib'],
  // The connection data path: endpoints in, bytes out; no domain types, so not even model.
  proxy: ['lib'],
  // The agent runs the per-node service listeners and the ingress (proxy).
  agent: ['api', 'drivers', 'discovery/checks', 'tls', 'proxy', 'model', 'lib'],
  acl: ['model', 'lib'],
  server: ['acl', 'scheduler', 'state', 'kv', 'discovery/catalog', 'discovery/checks', 'discovery/dns', 'jobspec', 'api', 'tls', 'model', 'lib'],
  // The CLI validates job files before sending them (jobspec), reads Compose projects (compose),
  // makes certificates (tls) and is the composition root that starts server and agent.
  // A Compose project as job specs, pure; berth's job spec reader checks what it makes.
  compose: ['jobspec', 'model', 'lib'],
  cli: ['api', 'jobspec', 'compose', 'server', 'agent', 'drivers', 'tls', 'model', 'lib'],
  ui: ['api', 'model'],
};

/** Folders outside src/ whose files import layers as tests do: any layer, through its entry file. */
const OUTSIDE = ['test', 'bench'];

/** The layer a path under src/ belongs to (`discovery/dns` for src/discovery/dns/zone.ts); undefined outside src/. */
function layerOf(srcDir, file) {
  const rel = path.relative(srcDir, file);
  if (rel.startsWith('..')) return undefined;
  const [top, sub, ...rest] = rel.split(path.sep);
  return rest.length > 0 && SUBLAYERS[top]?.includes(sub) ? `${top}/${sub}` : top;
}

/** The folder of `OUTSIDE` a file is in, if any. */
function outsideOf(cwd, file) {
  const top = path.relative(cwd, file).split(path.sep)[0];
  return OUTSIDE.includes(top) ? top : undefined;
}

export default {
  rules: {
    layers: {
      meta: {
        type: 'problem',
        docs: { description: 'imports between layers go through index.ts and follow the layer table' },
        schema: [],
      },
      create(context) {
        const file = context.physicalFilename;
        const srcDir = path.join(context.cwd, 'src');
        const outside = outsideOf(context.cwd, file);
        const from = layerOf(srcDir, file) ?? outside;
        if (!from) return {};
        const isTest = outside !== undefined || /\.test(-suite|-helper)?\.ts$/.test(file);
        const check = (node, spec) => {
          if (typeof spec !== 'string' || !spec.startsWith('.')) return;
          const target = path.resolve(path.dirname(file), spec);
          if (!outside && outsideOf(context.cwd, target) === 'test') {
            context.report({ node, message: `src/ may not import the end-to-end harness (${path.relative(context.cwd, target)}): a test that needs a real engine belongs under test/, a helper src/ tests share under src/testing/` });
            return;
          }
          const to = layerOf(srcDir, target);
          if (!to || to === from) return;
          if (!ALLOWED[to]) {
            const subs = (SUBLAYERS[to] ?? []).map((s) => `${to}/${s}/index.ts`);
            context.report({ node, message: `src/${to} is not a layer of docs/ARCHITECTURE.md: ${subs.length ? `import one of ${subs.join(', ')}` : 'add it to scripts/eslint/layers.js'}` });
            return;
          }
          const allowed = outside ? undefined : ALLOWED[from];
          if (!outside && !allowed) {
            context.report({ node, message: `src/${from} is not a layer of docs/ARCHITECTURE.md: add it to scripts/eslint/layers.js` });
            return;
          }
          // Tests may compose layers in process (a server and an agent together), but still only
          // through their public surfaces.
          if (!isTest && !allowed.includes(to)) {
            context.report({ node, message: `${from}/ may not import ${to}/ (allowed: ${allowed.join(', ') || 'nothing'}); see docs/ARCHITECTURE.md` });
            return;
          }
          if (path.relative(path.join(srcDir, to), target) !== 'index.ts') {
            context.report({ node, message: `import ${to}/ through its public surface ${to}/index.ts, not ${path.relative(srcDir, target)}` });
          }
        };
        return {
          ImportDeclaration: (node) => check(node, node.source.value),
          // A re-export and a lazy import() cross a layer as much as an import does.
          ExportNamedDeclaration: (node) => node.source && check(node, node.source.value),
          ExportAllDeclaration: (node) => check(node, node.source.value),
          ImportExpression: (node) => node.source.type === 'Literal' && check(node, node.source.value),
        };
      },
    },
  },
};
