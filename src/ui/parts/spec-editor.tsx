/**
 * The job spec editor: CodeMirror 6 with YAML, and the server's problems shown at their lines.
 * A problem's path (`groups[0].tasks[1].resources.memory`) is found in the text with the `yaml`
 * library's document positions (loaded with the first problem: its own chunk); what has no place
 * in the text marks the first line.
 */
import { useEffect, useRef, type ReactNode } from 'react';
import { EditorView, basicSetup } from 'codemirror';
import { yaml } from '@codemirror/lang-yaml';
import { lintGutter, setDiagnostics, type Diagnostic } from '@codemirror/lint';
import { HighlightStyle, syntaxHighlighting } from '@codemirror/language';
import { tags } from '@lezer/highlight';

/**
 * Colours from the page's own variables, so the editor follows the light or dark theme with the
 * contrast the rest of the page has.
 */
const theme = EditorView.theme({
  '&': { color: 'var(--fg)', backgroundColor: 'var(--bg)' },
  '.cm-content': { caretColor: 'var(--fg)' },
  '.cm-cursor': { borderLeftColor: 'var(--fg)' },
  '.cm-gutters': { backgroundColor: 'var(--bg2)', color: 'var(--muted)', borderRight: '1px solid var(--line)' },
  '.cm-activeLine, .cm-activeLineGutter': { backgroundColor: 'transparent' },
  '&.cm-focused .cm-selectionBackground, .cm-selectionBackground': { backgroundColor: 'var(--infobg)' },
});

const highlight = HighlightStyle.define([
  { tag: [tags.propertyName, tags.definition(tags.propertyName)], color: 'var(--accent)' },
  { tag: [tags.string, tags.special(tags.string), tags.content], color: 'var(--ok)' },
  { tag: [tags.number, tags.bool, tags.null, tags.atom], color: 'var(--info)' },
  { tag: [tags.comment, tags.meta], color: 'var(--muted)', fontStyle: 'italic' },
  { tag: [tags.punctuation, tags.separator, tags.squareBracket, tags.brace], color: 'var(--fg)' },
]);

/** One problem of a spec, as the server's error details give it. */
export interface SpecProblem {
  path: string;
  message: string;
}

/** `groups[0].tasks[1].name` as ['groups', 0, 'tasks', 1, 'name']. */
function keysOf(path: string): (string | number)[] {
  return path
    .split(/\.|(?=\[)/)
    .filter(Boolean)
    .map((k) => (/^\[\d+\]$/.test(k) ? Number(k.slice(1, -1)) : k));
}

/** Where in the text a problem's path is: its value, else its nearest parent that exists. */
export async function locate(text: string, path: string): Promise<{ from: number; to: number }> {
  const { parseDocument, isNode } = await import('yaml');
  const doc = parseDocument(text);
  const keys = keysOf(path);
  for (let n = keys.length; n > 0; n--) {
    const node = doc.getIn(keys.slice(0, n), true);
    if (isNode(node) && node.range) return { from: node.range[0], to: Math.max(node.range[0] + 1, node.range[1]) };
  }
  const firstLine = text.indexOf('\n');
  return { from: 0, to: firstLine < 0 ? text.length : firstLine };
}

/** The editor; `problems` are drawn as diagnostics each time they change. */
export function SpecEditor({ value, onChange, problems }: { value: string; onChange: (v: string) => void; problems: SpecProblem[] }): ReactNode {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView>(undefined);
  const changed = useRef(onChange);
  changed.current = onChange;
  useEffect(() => {
    view.current = new EditorView({
      parent: host.current!,
      doc: value,
      extensions: [
        basicSetup,
        yaml(),
        theme,
        syntaxHighlighting(highlight),
        lintGutter(),
        EditorView.updateListener.of((u) => u.docChanged && changed.current(u.state.doc.toString())),
        EditorView.contentAttributes.of({ 'aria-label': 'Job spec (YAML)' }),
      ],
    });
    return () => view.current?.destroy();
    // The editor owns its text after the first render.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  useEffect(() => {
    const v = view.current;
    if (!v) return;
    const text = v.state.doc.toString();
    void Promise.all(problems.map(async (p): Promise<Diagnostic> => ({ ...(await locate(text, p.path)), severity: 'error', message: p.path ? `${p.path}: ${p.message}` : p.message }))).then((diagnostics) => {
      // The text may have changed meanwhile: only positions still inside it are drawn.
      const length = v.state.doc.length;
      v.dispatch(setDiagnostics(v.state, diagnostics.filter((d) => d.to <= length)));
    });
  }, [problems]);
  return <div className="editor" ref={host} data-testid="spec-editor" />;
}
