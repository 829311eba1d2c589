/** The job-level parts of a Compose service: its job type and restart policy, rolling updates, and placement. */
import { obj, type MapContext, type Obj } from './map-context.ts';
import { durationMs } from './units.ts';

/** The job type and restart policy from `restart`, `deploy.restart_policy` and `deploy.mode`. */
export function lifecycle(svc: Obj, at: string, ctx: MapContext): { type: 'service' | 'batch' | 'system'; restart?: Obj; reschedule?: Obj } {
  const deploy = obj(svc.deploy) ?? {};
  const policy = obj(deploy.restart_policy);
  const global = deploy.mode === 'global';
  if (deploy.mode !== undefined && deploy.mode !== 'global' && deploy.mode !== 'replicated') {
    ctx.warnings.push({ path: `${at}.deploy.mode`, message: `"${String(deploy.mode)}" is not honoured: replicated is used` });
  }
  if (policy) return fromPolicy(policy, global, `${at}.deploy.restart_policy`, ctx);
  const r = svc.restart === undefined ? undefined : String(svc.restart);
  // Compose restarts `always`/`unless-stopped` containers without end: berth's delay mode never gives up.
  if (r === undefined) return { type: global ? 'system' : 'service' };
  if (r === 'always' || r === 'unless-stopped') return { type: global ? 'system' : 'service', restart: { attempts: 10, interval: '1m', delay: '1s', mode: 'delay' } };
  // `no`: a one-shot service (a migration) runs once, as a batch job that is not run again when it fails.
  if (r === 'no') return oneShot(global, 0, at, ctx);
  const m = /^on-failure(?::(\d+))?$/.exec(r);
  if (m) return oneShot(global, m[1] === undefined ? undefined : Number(m[1]), at, ctx);
  ctx.warnings.push({ path: `${at}.restart`, message: `"${r}" is not a Compose restart policy: berth's default is used` });
  return { type: global ? 'system' : 'service' };
}

function oneShot(global: boolean, attempts: number | undefined, at: string, ctx: MapContext): { type: 'batch' | 'system'; restart: Obj; reschedule?: Obj } {
  if (global) ctx.warnings.push({ path: `${at}.restart`, message: 'a global one-shot service runs as a system job, restarted when it exits: berth has no one-per-node batch job' });
  const restart = attempts === undefined ? { attempts: 3, interval: '1m', delay: '1s', mode: 'delay' } : { attempts, interval: '24h', delay: '1s', mode: 'fail' };
  return global ? { type: 'system', restart } : { type: 'batch', restart, reschedule: { attempts: 0, unlimited: false } };
}

function fromPolicy(p: Obj, global: boolean, at: string, ctx: MapContext): { type: 'service' | 'batch' | 'system'; restart?: Obj; reschedule?: Obj } {
  const condition = p.condition === undefined ? 'any' : String(p.condition);
  const delay = `${durationMs(p.delay) ?? 5000}ms`;
  const interval = p.window === undefined ? '24h' : `${Math.max(durationMs(p.window) ?? 0, 1000)}ms`;
  const attempts = p.max_attempts === undefined ? undefined : Number(p.max_attempts);
  if (condition === 'none') return oneShot(global, 0, at, ctx);
  if (condition === 'on-failure') return { ...oneShot(global, attempts, at, ctx), ...(attempts === undefined ? {} : { restart: { attempts, interval, delay, mode: 'fail' } }) };
  const restart = attempts === undefined ? { attempts: 10, interval: '1m', delay, mode: 'delay' } : { attempts, interval, delay, mode: 'fail' };
  return { type: global ? 'system' : 'service', restart };
}

/** `deploy.update_config` as berth's update block: `order: start-first` as auto-promoted canaries. */
export function updateBlock(svc: Obj, at: string, ctx: MapContext): Obj | undefined {
  const u = obj(obj(svc.deploy)?.update_config);
  if (!u) return undefined;
  const out: Obj = { max_parallel: Number(u.parallelism ?? 1) };
  if (u.delay !== undefined) out.stagger = `${durationMs(u.delay) ?? 0}ms`;
  if (u.monitor !== undefined) out.min_healthy_time = `${durationMs(u.monitor) ?? 0}ms`;
  if (u.failure_action === 'rollback') out.auto_revert = true;
  else if (u.failure_action === 'pause') ctx.warnings.push({ path: `${at}.deploy.update_config.failure_action`, message: 'pause is not honoured: a failed deployment stops, as with continue; rollback reverts' });
  if (u.order === 'start-first') Object.assign(out, { canary: Math.max(1, Number(out.max_parallel)), auto_promote: true });
  out.health_check = obj(svc.healthcheck) ? 'checks' : 'task_states';
  if (u.max_failure_ratio !== undefined) ctx.warnings.push({ path: `${at}.deploy.update_config.max_failure_ratio`, message: 'not honoured: one failed allocation fails the deployment' });
  if (obj(svc.deploy)?.rollback_config !== undefined) ctx.warnings.push({ path: `${at}.deploy.rollback_config`, message: 'not honoured: a revert is registered as a new version at once' });
  return out;
}

const ARCH: Record<string, string> = { x86_64: 'x64', amd64: 'x64', aarch64: 'arm64', arm64: 'arm64' };

/** A Swarm placement constraint (`node.labels.x == y`, `node.hostname != h`) as berth's constraint. */
function constraint(text: string, at: string, ctx: MapContext): Obj | undefined {
  const m = /^\s*([\w.-]+)\s*(==|!=)\s*(.+?)\s*$/.exec(text);
  const attribute = m && (m[1].startsWith('node.labels.') ? `\${meta.${m[1].slice('node.labels.'.length)}}` : { 'node.hostname': '${node.unique.name}', 'node.id': '${node.unique.id}', 'node.platform.os': '${attr.os.name}', 'node.platform.arch': '${attr.cpu.arch}' }[m[1]]);
  if (!m || !attribute) {
    ctx.warnings.push({ path: at, message: `"${text}" is not honoured: berth reads node.labels.<name>, node.hostname, node.id, node.platform.os and node.platform.arch with == or !=` });
    return undefined;
  }
  const value = m[1] === 'node.platform.arch' ? (ARCH[m[3]] ?? m[3]) : m[3];
  return { attribute, operator: m[2] === '==' ? '=' : '!=', value };
}

/** `deploy.placement`: constraints, spread preferences and max_replicas_per_node. */
export function placement(svc: Obj, at: string, ctx: MapContext): { constraints?: Obj[]; spreads?: Obj[] } {
  const p = obj(obj(svc.deploy)?.placement);
  if (!p) return {};
  const constraints = ((p.constraints as unknown[] | undefined) ?? []).map((c, i) => constraint(String(c), `${at}.deploy.placement.constraints[${i}]`, ctx)).filter((c): c is Obj => c !== undefined);
  if (p.max_replicas_per_node !== undefined) {
    constraints.push({ attribute: '${node.unique.id}', operator: 'distinct_property', value: String(p.max_replicas_per_node) });
  }
  const spreads = ((p.preferences as Obj[] | undefined) ?? []).flatMap((pref, i) => {
    const label = typeof pref.spread === 'string' && pref.spread.startsWith('node.labels.') ? pref.spread.slice('node.labels.'.length) : undefined;
    if (label) return [{ attribute: `\${meta.${label}}`, weight: 100 }];
    ctx.warnings.push({ path: `${at}.deploy.placement.preferences[${i}]`, message: 'not honoured: berth spreads over node.labels.<name> only' });
    return [];
  });
  return { ...(constraints.length > 0 ? { constraints } : {}), ...(spreads.length > 0 ? { spreads } : {}) };
}
