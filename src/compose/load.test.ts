import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadProject, type LoadOptions } from './load.ts';
import type { ComposeProject } from './types.ts';

/** A project from in-memory files under /p. */
function load(files: Record<string, string>, o: Partial<LoadOptions> = {}): ReturnType<typeof loadProject> {
  return loadProject({ cwd: '/p', read: (f) => files[f], environment: {}, ...o });
}

function project(files: Record<string, string>, o: Partial<LoadOptions> = {}): ComposeProject {
  const r = load(files, o);
  if (!r.ok) assert.fail(JSON.stringify(r.problems));
  return r.project;
}

describe('reading compose projects', () => {
  it('finds compose.yaml from a subdirectory, with its override file, named after the directory', () => {
    const p = project({ '/p/compose.yaml': 'services: {web: {image: a}}', '/p/compose.override.yaml': 'services: {web: {image: b}}' }, { cwd: '/p/sub/dir' });
    assert.equal(p.name, 'p');
    assert.deepEqual(p.files, ['/p/compose.yaml', '/p/compose.override.yaml']);
    assert.equal(p.services.web.image, 'b');
  });

  it('says where it looked when there is no file', () => {
    const r = load({});
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.problems[0].message : '', /no Compose file here or in a parent directory \(looked for compose.yaml/);
  });

  it('merges -f files by the spec: mappings by key, lists appended, command replaced, ports and volumes unique', () => {
    const base = `services:
  web:
    image: a
    command: [run, a]
    environment: [A=1, B=2]
    dns: [1.1.1.1]
    ports: ["80:80", "443:443"]
    volumes: ["data:/data", "./conf:/conf"]
`;
    const over = `services:
  web:
    command: [run, b]
    environment: {B: "3", C: "4"}
    dns: [8.8.8.8]
    ports: ["80:80"]
    volumes: ["other:/data"]
`;
    const web = project({ '/p/a.yaml': base, '/p/b.yaml': over }, { files: ['a.yaml', 'b.yaml'] }).services.web;
    assert.deepEqual(web.command, ['run', 'b']);
    assert.deepEqual(web.environment, { A: '1', B: '3', C: '4' });
    assert.deepEqual(web.dns, ['1.1.1.1', '8.8.8.8']);
    assert.equal((web.ports as unknown[]).length, 2);
    assert.deepEqual(web.volumes, [{ type: 'volume', source: 'other', target: '/data' }, { type: 'bind', source: '/p/conf', target: '/conf' }]);
  });

  it('honours !reset and !override in a later file', () => {
    const web = project({
      '/p/a.yaml': 'services: {web: {image: a, ports: ["80:80"], environment: {A: "1", B: "2"}}}',
      '/p/b.yaml': 'services:\n  web:\n    ports: !override ["81:81"]\n    environment:\n      A: !reset null\n',
    }, { files: ['a.yaml', 'b.yaml'] }).services.web;
    assert.deepEqual(web.ports, [{ target: 81, published: '81' }]);
    assert.deepEqual(web.environment, { B: '2' });
  });

  it('interpolates from .env, the shell winning, and reads --env-file instead when given', () => {
    const files = { '/p/compose.yaml': 'services: {web: {image: "${IMG}:${TAG:-latest}"}}', '/p/.env': 'IMG=from-file\nTAG=1\n', '/p/other.env': 'IMG=other\n' };
    assert.equal(project(files).services.web.image, 'from-file:1');
    assert.equal(project(files, { environment: { IMG: 'shell' } }).services.web.image, 'shell:1');
    assert.equal(project(files, { envFiles: ['other.env'] }).services.web.image, 'other:latest');
  });

  it('interpolates .env values with the variables above them and the shell', () => {
    const files = { '/p/compose.yaml': 'services: {web: {image: "${IMAGE}"}}', '/p/.env': 'REG=registry.example\nIMAGE=${REG}/app:${TAG:-1}\n' };
    assert.equal(project(files).services.web.image, 'registry.example/app:1');
    assert.equal(project(files, { environment: { TAG: '2' } }).services.web.image, 'registry.example/app:2');
  });

  it('reports a required variable with the file and the path', () => {
    const r = load({ '/p/compose.yaml': 'services: {web: {image: "${IMG:?set IMG to the image}"}}' });
    assert.deepEqual(!r.ok && r.problems, [{ path: '/p/compose.yaml: services.web.image', message: 'required variable IMG is missing: set IMG to the image' }]);
  });

  it('checks each file against the Compose schema, naming an unknown key', () => {
    const r = load({ '/p/compose.yaml': 'services: {web: {image: a, replicas: 3}}' });
    assert.equal(!r.ok && r.problems[0].path, '/p/compose.yaml: services.web.replicas');
    assert.match(!r.ok ? r.problems[0].message : '', /unknown key "replicas"/);
  });

  it('resolves extends from the same file and another, relative paths against the file that wrote them', () => {
    const p = project({
      '/p/compose.yaml': 'services:\n  web: {extends: {service: base, file: common/base.yaml}, environment: {B: "2"}}\n  worker: {extends: web, command: work}\n',
      '/p/common/base.yaml': 'services:\n  base: {image: app, environment: {A: "1"}, volumes: ["./data:/data"], depends_on: [db]}\n  db: {image: db}\n',
    });
    assert.deepEqual(p.services.web.environment, { A: '1', B: '2' });
    assert.deepEqual(p.services.web.volumes, [{ type: 'bind', source: '/p/common/data', target: '/data' }]);
    assert.equal(p.services.web.depends_on, undefined, 'depends_on is not inherited');
    assert.equal(p.services.worker.image, 'app');
    assert.equal(p.services.worker.command, 'work');
  });

  it('reports an extends cycle', () => {
    const r = load({ '/p/compose.yaml': 'services: {a: {image: x, extends: b}, b: {image: x, extends: a}}' });
    assert.match(!r.ok ? r.problems.map((p) => p.message).join() : '', /extends cycle/);
  });

  it('enables services by --profile, COMPOSE_PROFILES or by name, and names a needed service left out', () => {
    const files = { '/p/compose.yaml': 'services:\n  web: {image: a}\n  debug: {image: b, profiles: [debug]}\n  tool: {image: c, profiles: [ops], depends_on: [debug]}\n' };
    assert.deepEqual(Object.keys(project(files).services), ['web']);
    assert.deepEqual(Object.keys(project(files, { profiles: ['debug'] }).services), ['web', 'debug']);
    assert.deepEqual(Object.keys(project(files, { environment: { COMPOSE_PROFILES: 'debug' } }).services), ['web', 'debug']);
    const r = load(files, { services: ['tool'] });
    assert.match(!r.ok ? r.problems[0].message : '', /depends on "debug", but it is in profiles debug, none of them active; add --profile debug/);
  });

  it('keeps x- extensions out of the model, and takes the name from -p, COMPOSE_PROJECT_NAME or name:', () => {
    const files = { '/p/compose.yaml': 'name: shop_app\nx-common: &c {image: a}\nx-berth: {priority: 70}\nservices: {web: *c}\n' };
    const p = project(files);
    assert.equal(p.name, 'shop_app');
    assert.deepEqual(Object.keys(p.extensions), ['x-common', 'x-berth']);
    assert.equal(project(files, { environment: { COMPOSE_PROJECT_NAME: 'env' } }).name, 'env');
    assert.equal(project(files, { projectName: 'flag', environment: { COMPOSE_PROJECT_NAME: 'env' } }).name, 'flag');
  });

  it('refuses a project name given that is not valid as it is, and makes the directory name valid', () => {
    const bad = load({ '/p/compose.yaml': 'name: Shop.App\nservices: {web: {image: a}}\n' });
    assert.deepEqual(!bad.ok ? bad.problems : [], [{ path: 'name', message: 'invalid project name "Shop.App": use only lowercase letters, digits, - and _, starting with a letter or digit (such as "shopapp")' }]);
    const flag = load({ '/p/compose.yaml': 'services: {web: {image: a}}\n' }, { projectName: 'Bad Name!' });
    assert.equal(!flag.ok ? flag.problems[0].path : '', '-p');
    const dir = loadProject({ cwd: '/My.Proj', read: (f) => (f === '/My.Proj/compose.yaml' ? 'services: {web: {image: a}}' : undefined), environment: {} });
    assert.equal(dir.ok ? dir.project.name : '', 'myproj');
  });

  it('reports a YAML error with its line', () => {
    const r = load({ '/p/compose.yaml': 'services:\n  web: {image: a\n' });
    assert.match(!r.ok ? r.problems[0].path : '', /^\/p\/compose.yaml:\d+:\d+$/);
    assert.doesNotMatch(!r.ok ? r.problems[0].message : '', /line \d+, column \d+|:$/, 'the place is in the path, once');
  });
});
