import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseCpu, parseDuration, parseSize } from './units.ts';

function value<T>(parsed: { ok: true; value: T } | { ok: false; error: string }): T {
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
  return parsed.value;
}

function error(parsed: { ok: true; value: unknown } | { ok: false; error: string }): string {
  assert.ok(!parsed.ok, 'expected an error');
  return parsed.error;
}

describe('parseDuration', () => {
  test('reads single units into milliseconds', () => {
    assert.equal(value(parseDuration('500ms')), 500);
    assert.equal(value(parseDuration('15s')), 15_000);
    assert.equal(value(parseDuration('30m')), 1_800_000);
    assert.equal(value(parseDuration('24h')), 86_400_000);
  });

  test('adds up compound durations and decimals', () => {
    assert.equal(value(parseDuration('1h30m')), 5_400_000);
    assert.equal(value(parseDuration('1m30s500ms')), 90_500);
    assert.equal(value(parseDuration('1.5s')), 1_500);
    assert.equal(value(parseDuration('0s')), 0);
  });

  test('refuses a bare number and suggests adding a unit', () => {
    assert.match(error(parseDuration(15)), /with a unit, such as "15s" or "15ms", got 15/);
  });

  test('refuses unknown units and names the known ones', () => {
    assert.match(error(parseDuration('3d')), /unknown duration unit "d".*use ms, s, m or h/);
    assert.match(error(parseDuration('10us')), /unknown duration unit "us"/);
  });

  test('refuses malformed text, negatives and other types', () => {
    for (const bad of ['', 's', '-5s', '5', '1h 30m', '5s!', 'abc', '1.s']) {
      assert.match(error(parseDuration(bad)), /must be a duration/, bad);
    }
    assert.match(error(parseDuration(null)), /got null/);
    assert.match(error(parseDuration(['1s'])), /got a list/);
  });

  test('refuses durations past ten years', () => {
    assert.match(error(parseDuration('999999999999h')), /at most/);
    assert.match(error(parseDuration(`${'9'.repeat(400)}h`)), /at most/);
  });
});

describe('parseSize', () => {
  test('reads a number as MiB', () => {
    assert.equal(value(parseSize(256)), 256);
  });

  test('reads binary units in any case, with or without B', () => {
    assert.equal(value(parseSize('256Mi')), 256);
    assert.equal(value(parseSize('1Gi')), 1024);
    assert.equal(value(parseSize('1GiB')), 1024);
    assert.equal(value(parseSize('2ti')), 2 * 1024 * 1024);
    assert.equal(value(parseSize('128')), 128);
  });

  test('rounds sizes below a MiB up to whole MiB', () => {
    assert.equal(value(parseSize('512Ki')), 1);
    assert.equal(value(parseSize('1536Ki')), 2);
    assert.equal(value(parseSize('1048576B')), 1);
  });

  test('refuses decimal units because they are ambiguous', () => {
    assert.match(error(parseSize('256M')), /unknown size unit "M".*powers of 1024/);
    assert.match(error(parseSize('1GB')), /unknown size unit "GB"/);
  });

  test('refuses zero, negatives, infinities and non-numbers', () => {
    assert.match(error(parseSize(-5)), /must be a positive number of MiB, got -5/);
    assert.match(error(parseSize(0)), /positive/);
    assert.match(error(parseSize(Number.POSITIVE_INFINITY)), /positive/);
    assert.match(error(parseSize(Number.NaN)), /positive/);
    assert.match(error(parseSize('lots')), /must be a size/);
    assert.match(error(parseSize(true)), /got true/);
    assert.match(error(parseSize(1e300)), /at most 1Pi/);
  });
});

describe('parseCpu', () => {
  test('reads cores from numbers and strings, millicores with m', () => {
    assert.equal(value(parseCpu(0.5)), 0.5);
    assert.equal(value(parseCpu('2')), 2);
    assert.equal(value(parseCpu('500m')), 0.5);
    assert.equal(value(parseCpu('1500m')), 1.5);
  });

  test('keeps millicore precision', () => {
    assert.equal(value(parseCpu(0.1234)), 0.123);
  });

  test('refuses less than a millicore instead of rounding to zero', () => {
    assert.match(error(parseCpu(0.0001)), /at least 1 millicore/);
  });

  test('refuses zero, negatives, unknown suffixes and huge values', () => {
    assert.match(error(parseCpu(0)), /positive/);
    assert.match(error(parseCpu(-1)), /positive/);
    assert.match(error(parseCpu('2 cores')), /millicores/);
    assert.match(error(parseCpu(1e9)), /at most 65536 cores/);
    assert.match(error(parseCpu({})), /got a map/);
  });
});
