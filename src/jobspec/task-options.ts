import type { ImagePullPolicy, Task, TaskConfig, TaskTemplate } from '../model/index.ts';
import { indexPath, MapReader } from './reader.ts';
import { describeValue, parseDuration, parseSize } from './units.ts';

/** The driver options of a task's `config`, besides image, command, args and workdir. */
export const DRIVER_OPTION_KEYS = [
  'entrypoint',
  'user',
  'stop_signal',
  'pull',
  'hostname',
  'extra_hosts',
  'dns_servers',
  'dns_search',
  'network_mode',
  'volumes',
  'tmpfs',
  'labels',
  'privileged',
  'cap_add',
  'cap_drop',
  'devices',
  'init',
] as const;

/** Task fields read here: when it runs (lifecycle), how long it may run, how much output it keeps. */
export const TASK_OPTION_KEYS = ['lifecycle', 'max_run_duration', 'logs', 'templates'] as const;

const PULL: readonly ImagePullPolicy[] = ['always', 'missing', 'never'];
const SIGNAL = /^(SIG)?[A-Z][A-Z0-9+-]*$|^\d+$/;
/** `source:/target[:ro|rw]`; a source with a `..` segment is refused (a relative one must stay in the task directory). */
const VOLUME = /^(?!(?:[^:]*\/)?\.\.(?:\/|:))[^:]+:\/[^:]*(:(ro|rw))?$/;
const EXTRA_HOST = /^[^:\s]+:\S+$/;
const TMPFS = /^\/[^:]*(:[^:\s]+)?$/;
const DEVICE = /^\/dev\/[^:]+(:\/dev\/[^:]+(:[rwm]{1,3})?)?$/;

/** Reads the driver options of `config` into `out`; records every problem. */
export function readDriverOptions(r: MapReader, out: TaskConfig): void {
  const list = (key: string, pattern?: RegExp, help?: string): string[] | undefined => (r.has(key) ? strings(r, key, pattern, help) : undefined);
  if (r.has('entrypoint')) out.entrypoint = strings(r, 'entrypoint');
  if (r.has('user')) out.user = r.string('user', '', { pattern: /^[a-zA-Z0-9_.-]+(:[a-zA-Z0-9_.-]+)?$/, patternHelp: 'a user name or uid, optionally :group' });
  if (r.has('stop_signal')) out.stopSignal = r.string('stop_signal', '', { pattern: SIGNAL, patternHelp: 'a signal name such as SIGINT or SIGQUIT' });
  if (r.has('pull')) out.pull = r.oneOf('pull', PULL, 'missing');
  if (r.has('hostname')) out.hostname = r.string('hostname', '', { pattern: /^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,62})$/, patternHelp: 'a host name' });
  const extraHosts = list('extra_hosts', EXTRA_HOST, 'name:ip');
  if (extraHosts) out.extraHosts = extraHosts;
  const dns = list('dns_servers', /^[0-9a-fA-F:.]+$/, 'an IP address');
  if (dns) out.dnsServers = dns;
  const search = list('dns_search', /^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$/, 'a domain name');
  if (search) out.dnsSearch = search;
  if (r.has('network_mode')) out.networkMode = r.string('network_mode', '');
  const volumes = list('volumes', VOLUME, '/host/path:/container/path[:ro], volume-name:/container/path[:ro] or a path in the task directory (secrets/x:/container/path[:ro], no ..)');
  if (volumes) out.volumes = volumes;
  const tmpfs = list('tmpfs', TMPFS, '/container/path[:mount options], e.g. /run:size=64m');
  if (tmpfs) out.tmpfs = tmpfs;
  if (r.has('labels')) out.labels = r.stringMap('labels');
  if (r.has('privileged')) out.privileged = r.bool('privileged', false);
  const capAdd = list('cap_add', /^[A-Za-z_]+$/, 'a capability name such as NET_ADMIN');
  if (capAdd) out.capAdd = capAdd;
  const capDrop = list('cap_drop', /^[A-Za-z_]+$/, 'a capability name such as NET_RAW');
  if (capDrop) out.capDrop = capDrop;
  const devices = list('devices', DEVICE, '/dev/host[:/dev/container[:rwm]]');
  if (devices) out.devices = devices;
  if (r.has('init')) out.init = r.bool('init', false);
}

/** Reads `lifecycle`, `max_run_duration` and `logs` of a task into it; records every problem. */
export function readTaskOptions(r: MapReader, task: Task): void {
  if (r.has('lifecycle')) {
    const l = r.child('lifecycle', ['hook', 'sidecar']);
    if (l) {
      const hook = l.oneOf('hook', ['prestart', 'poststop'] as const, undefined);
      if (hook === undefined && !l.has('hook')) l.problem('hook', 'required (prestart or poststop)');
      const sidecar = l.bool('sidecar', false);
      if (sidecar && hook === 'poststop') l.problem('sidecar', 'only prestart tasks can be sidecars');
      if (hook) task.lifecycle = { hook, sidecar };
    }
  }
  if (r.has('max_run_duration')) {
    // -1 when it does not parse (a problem of its own already); 0 is a limit no task can meet.
    task.maxRunDurationMs = r.quantity('max_run_duration', parseDuration, -1);
    if (task.maxRunDurationMs === 0) r.problem('max_run_duration', `must be longer than 0s, got ${describeValue(r.get('max_run_duration'))}; remove it to let the task run without a limit`);
  }
  if (r.has('logs')) {
    const l = r.child('logs', ['max_files', 'max_file_size']);
    if (l) task.logs = { maxFiles: l.int('max_files', 10, { min: 1, max: 1000 }), maxFileSizeMiB: l.quantity('max_file_size', parseSize, 10) };
  }
  if (r.has('templates')) readTemplates(r, task);
}

/** `templates: [{data, destination | env, change_mode, change_signal, splay}]`. */
function readTemplates(r: MapReader, task: Task): void {
  const templates: TaskTemplate[] = [];
  r.list('templates', 'templates').forEach((item, i) => {
    const t = MapReader.open(item, { path: indexPath(r.pathOf('templates'), i), problems: r.problems }, ['data', 'destination', 'env', 'change_mode', 'change_signal', 'splay']);
    if (!t) return;
    const tpl: TaskTemplate = { data: t.string('data', '') };
    if (tpl.data === '') t.problem('data', 'required: the template text, e.g. \'port={{key "cfg/port"}}\'');
    if (t.has('destination')) tpl.destination = t.string('destination', '', { pattern: /^(?!\/)(?!.*(^|\/)\.\.(\/|$)).+$/, patternHelp: 'a path inside the task directory, such as local/app.conf' });
    if (t.has('env')) tpl.env = t.bool('env', false);
    if (!t.has('destination') && !tpl.env) t.problem('destination', 'required unless env is true: where to write the rendered file');
    tpl.changeMode = t.oneOf('change_mode', ['restart', 'signal', 'noop'] as const, 'restart');
    if (t.has('change_signal')) tpl.changeSignal = t.string('change_signal', '', { pattern: SIGNAL, patternHelp: 'a signal name such as SIGHUP' });
    if (tpl.changeMode === 'signal' && !tpl.changeSignal) t.problem('change_signal', 'required with change_mode signal');
    if (t.has('splay')) tpl.splayMs = t.quantity('splay', parseDuration, 0);
    templates.push(tpl);
  });
  task.templates = templates;
}

function strings(r: MapReader, key: string, pattern?: RegExp, help?: string): string[] {
  const out: string[] = [];
  r.list(key, 'strings').forEach((item, i) => {
    if (typeof item !== 'string' || item === '') r.problems.add(indexPath(r.pathOf(key), i), `must be a non-empty string, got ${describeValue(item)}`);
    else if (pattern && !pattern.test(item)) r.problems.add(indexPath(r.pathOf(key), i), `must be ${help ?? pattern.source}, got "${item}"`);
    else out.push(item);
  });
  return out;
}

