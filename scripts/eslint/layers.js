// The layer rule of ARCHITECTURE.md as an ESLint rule: a file under src/<layer>/ may import
// another layer only through that layer's index.ts, and only a layer its row below allows.
// It resolves each relative import against the file, so `../context.ts` inside server/http is
// the same layer while `../../state/store.ts` is a reach inside another one.
import path from 'node:path';

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
  discovery: ['state', 'model', 'lib'],
  testing: ['scheduler', 'state', 'model', 'lib'],
  agent: ['api', 'drivers', 'discovery', 'model', 'lib'],
  server: ['scheduler', 'state', 'kv', 'discovery', 'jobspec', 'api', 'model', 'lib'],
  // The CLI validates job files before sending them (jobspec) and is the composition root
  // that starts server and agent.
  cli: ['api', 'jobspec', 'server', 'agent', 'model', 'lib'],
  ui: ['api', 'model'],
};

function layerOf(srcDir, file) {
  const rel = path.relative(srcDir, file);
  if (rel.startsWith('..')) return undefined;
  return rel.split(path.sep)[0];
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
        const from = layerOf(srcDir, file);
        if (!from) return {};
        const isTest = /\.test(-suite)?\.ts$/.test(file);
        return {
          ImportDeclaration(node) {
            const spec = node.source.value;
            if (typeof spec !== 'string' || !spec.startsWith('.')) return;
            const target = path.resolve(path.dirname(file), spec);
            const to = layerOf(srcDir, target);
            if (!to || to === from) return;
            const allowed = ALLOWED[from];
            if (!allowed) {
              context.report({ node, message: `src/${from} is not a layer of ARCHITECTURE.md: add it to scripts/eslint/layers.js` });
              return;
            }
            // Tests may compose layers in process (a server and an agent together), but still only
            // through their public surfaces.
            if (!allowed.includes(to) && !isTest) {
              context.report({ node, message: `${from}/ may not import ${to}/ (allowed: ${allowed.join(', ') || 'nothing'}); see ARCHITECTURE.md` });
              return;
            }
            if (path.relative(path.join(srcDir, to), target) !== 'index.ts') {
              context.report({ node, message: `import ${to}/ through its public surface ${to}/index.ts, not ${path.relative(srcDir, target)}` });
            }
          },
        };
      },
    },
  },
};
