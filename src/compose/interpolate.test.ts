import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { interpolateString, interpolateTree, type InterpolationProblem } from './interpolate.ts';

const env: Record<string, string> = { NAME: 'web', EMPTY: '', PORT: '8080' };
const lookup = (n: string): string | undefined => env[n];

function run(text: string): { value: string; problems: InterpolationProblem[] } {
  const problems: InterpolationProblem[] = [];
  return { value: interpolateString(text, lookup, { path: 'services.x.image', problems }), problems };
}

describe('compose interpolation', () => {
  it('replaces $VAR and ${VAR}, an unset one with nothing', () => {
    assert.equal(run('$NAME:${PORT}/${UNSET}x').value, 'web:8080/x');
  });

  it('takes defaults: ":-" when unset or empty, "-" only when unset', () => {
    assert.equal(run('${EMPTY:-d} ${EMPTY-d} ${UNSET-d} ${UNSET:-d}').value, 'd  d d');
  });

  it('interpolates inside a default', () => {
    assert.equal(run('${UNSET:-${NAME}-${UNSET2:-x}}').value, 'web-x');
  });

  it('takes alternatives with ":+" and "+"', () => {
    assert.equal(run('${NAME:+set} ${EMPTY:+set}|${EMPTY+set}').value, 'set |set');
  });

  it('reports a required variable by its path, with the message given', () => {
    const { problems } = run('${UNSET:?give the registry} ${EMPTY?fine when empty} ${EMPTY:?no}');
    assert.deepEqual(problems.map((p) => p.path), ['services.x.image', 'services.x.image']);
    assert.match(problems[0].message, /required variable UNSET is missing: give the registry/);
    assert.match(problems[1].message, /required variable EMPTY is empty: no/);
  });

  it('keeps $$ as a literal $, and a lone $ as it is', () => {
    assert.equal(run('echo $${NAME} $$NAME costs 5$ $').value, 'echo ${NAME} $NAME costs 5$ $');
  });

  it('reports an unclosed brace and a bad operator', () => {
    assert.match(run('${NAME').problems[0].message, /no closing "}"/);
    assert.match(run('${NAME!x}').problems[0].message, /expected }, :-/);
  });

  it('walks a whole file, leaving keys and non-strings alone', () => {
    const problems: InterpolationProblem[] = [];
    const tree = { services: { $NAME: { image: 'img:${PORT}', ports: ['${PORT}:80', 5], init: true } } };
    assert.deepEqual(interpolateTree(tree, lookup, { path: '', problems }), { services: { $NAME: { image: 'img:8080', ports: ['8080:80', 5], init: true } } });
  });
});
