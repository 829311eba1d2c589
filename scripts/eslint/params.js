// Four or more positional parameters at a module boundary read badly at the call site
// (`f(a, b, 10, true)`): exported functions, and the constructors and public methods of exported
// classes, take at most `max` positional parameters (default 3) and an options object beyond that.
// Functions private to their module may take more; ESLint's own max-params cannot tell them apart.

/** The functions a module exports, by node: declarations, arrow/function consts, class members. */
function exportedFunctions(node) {
  const decl = node.declaration;
  if (!decl) return [];
  if (decl.type === 'FunctionDeclaration' || decl.type === 'TSDeclareFunction') return [decl];
  if (decl.type === 'VariableDeclaration') {
    return decl.declarations.map((d) => d.init).filter((init) => init && (init.type === 'ArrowFunctionExpression' || init.type === 'FunctionExpression'));
  }
  if (decl.type === 'ClassDeclaration') {
    return decl.body.body
      .filter((m) => m.type === 'MethodDefinition' && m.key.type !== 'PrivateIdentifier' && m.accessibility !== 'private' && m.accessibility !== 'protected')
      .map((m) => m.value);
  }
  return [];
}

function nameOf(fn) {
  const parent = fn.parent;
  if (fn.id) return fn.id.name;
  if (parent?.type === 'MethodDefinition') return parent.kind === 'constructor' ? 'constructor' : parent.key.name;
  if (parent?.type === 'VariableDeclarator') return parent.id.name;
  return 'function';
}

export default {
  rules: {
    'exported-max-params': {
      meta: {
        type: 'suggestion',
        docs: { description: 'exported functions take at most 3 positional parameters; more go in an options object' },
        schema: [{ type: 'integer', minimum: 1 }],
      },
      create(context) {
        const max = context.options[0] ?? 3;
        const check = (node) => {
          for (const fn of exportedFunctions(node)) {
            // `this: X` is a type annotation, not a parameter.
            const params = fn.params.filter((p) => !(p.type === 'Identifier' && p.name === 'this'));
            if (params.length > max) {
              context.report({ node: fn, message: `${nameOf(fn)} is exported and takes ${params.length} positional parameters: take at most ${max}, the rest in an options object (docs/STYLE.md)` });
            }
          }
        };
        return { ExportNamedDeclaration: check, ExportDefaultDeclaration: check };
      },
    },
  },
};
