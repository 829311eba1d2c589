import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { collectHosts, collectOrigins } from './browser-flags.ts';

describe('browser flags', () => {
  it('--allowed-origin takes http(s) origins, repeated or comma-separated, normalized', () => {
    assert.deepEqual(collectOrigins('https://ui.example.com:443, http://10.0.0.5:8080', ['http://a.example']), ['http://a.example', 'https://ui.example.com', 'http://10.0.0.5:8080']);
  });

  it('--allowed-origin refuses what is no origin, with an example', () => {
    for (const bad of ['*', 'null', 'ui.example.com', 'https://ui.example.com/app', 'https://ui.example.com/', 'ftp://x.example', 'https://u@x.example']) {
      assert.throws(() => collectOrigins(bad, undefined), /expected a web origin such as https:\/\/ui\.example\.com/, bad);
    }
  });

  it('--allowed-host takes names and addresses without a port', () => {
    assert.deepEqual(collectHosts('Berth.Example.com,10.0.0.5', undefined), ['berth.example.com', '10.0.0.5']);
    assert.deepEqual(collectHosts('[fd00::1]', undefined), ['fd00::1']);
    for (const bad of ['berth:7460', 'http://berth', '*.example.com', 'a b']) {
      assert.throws(() => collectHosts(bad, undefined), /expected a host name or IP address without a port/, bad);
    }
  });
});
