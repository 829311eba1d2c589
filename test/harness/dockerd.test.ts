import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { dockerTestEngine, TEST_IMAGE } from './dockerd.ts';
import { busyboxRootfsTar } from './busybox-rootfs.ts';

describe('docker test harness', () => {
  const saved = { host: process.env.BERTH_TEST_DOCKER_HOST, image: process.env.BERTH_TEST_IMAGE, ci: process.env.CI };
  const restore = (key: string, value: string | undefined): void => {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  };
  afterEach(() => {
    restore('BERTH_TEST_DOCKER_HOST', saved.host);
    restore('BERTH_TEST_IMAGE', saved.image);
    restore('CI', saved.ci);
  });

  it('takes the engine from the environment, with the default image when none is named', () => {
    process.env.BERTH_TEST_DOCKER_HOST = 'unix:///tmp/x.sock';
    delete process.env.BERTH_TEST_IMAGE;
    assert.deepEqual(dockerTestEngine(), { host: 'unix:///tmp/x.sock', image: TEST_IMAGE });
  });

  it('skips without an engine, but fails under CI', () => {
    delete process.env.BERTH_TEST_DOCKER_HOST;
    delete process.env.CI;
    assert.equal(dockerTestEngine(), null);
    process.env.CI = 'true';
    assert.throws(() => dockerTestEngine(), /^Error: Cannot run the Docker tests: BERTH_TEST_DOCKER_HOST is not set/);
  });

  it('builds a root filesystem archive holding busybox and its applet links', () => {
    const tar = busyboxRootfsTar();
    assert.equal(tar.length % 512, 0);
    const text = tar.toString('latin1');
    assert.ok(text.includes('bin/busybox\0'));
    assert.ok(text.includes('bin/sh\0'));
    assert.ok(text.includes('www/index.html\0'));
  });
});
