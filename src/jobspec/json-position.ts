/**
 * Where JSON text stops being valid. V8's `JSON.parse` names the position for some errors and not
 * for others ("Unexpected token '}'"), and a user needs a line and a column for every one.
 * Iterative, so that deep nesting cannot overflow the stack.
 */

// JSON forbids raw control characters inside strings, so the pattern has to name them.
// eslint-disable-next-line no-control-regex
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const WHITESPACE = /[ \t\n\r]*/y;
const LITERAL = /true|false|null/y;

type Expect = 'value' | 'value-or-close' | 'key' | 'key-or-close' | 'after-value';

/** The offset of the first character that makes `text` invalid JSON, or undefined when it is valid. */
export function jsonErrorOffset(text: string): number | undefined {
  const open: string[] = [];
  let expect: Expect = 'value';
  let i = 0;
  const match = (re: RegExp): boolean => {
    re.lastIndex = i;
    if (!re.test(text)) return false;
    i = re.lastIndex;
    return true;
  };
  for (;;) {
    match(WHITESPACE);
    const c = text[i];
    if (expect === 'after-value') {
      const top = open.at(-1);
      if (top === undefined) return i === text.length ? undefined : i;
      if (c === ',') expect = top === '{' ? 'key' : 'value';
      else if (c === (top === '{' ? '}' : ']')) open.pop();
      else return i;
      i++;
    } else if (expect === 'key-or-close' && c === '}') {
      open.pop();
      i++;
      expect = 'after-value';
    } else if (expect === 'key' || expect === 'key-or-close') {
      if (!match(STRING)) return i;
      match(WHITESPACE);
      if (text[i] !== ':') return i;
      i++;
      expect = 'value';
    } else if (expect === 'value-or-close' && c === ']') {
      open.pop();
      i++;
      expect = 'after-value';
    } else if (c === '{' || c === '[') {
      open.push(c);
      i++;
      expect = c === '{' ? 'key-or-close' : 'value-or-close';
    } else if (match(STRING) || match(NUMBER) || match(LITERAL)) {
      expect = 'after-value';
    } else {
      return i;
    }
  }
}
