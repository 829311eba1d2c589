import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { TaskUsage } from '../../model/index.ts';

/** Clock ticks per second of /proc times; 100 on every Linux berth runs on. */
const TICKS = 100;
const PAGE = 4096;

/** CPU ticks and resident bytes of every process in process group `pgid` (a task and all it forked). */
export function groupSample(pgid: number): { ticks: number; rssBytes: number } {
  let ticks = 0;
  let rssBytes = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let text: string;
    try {
      text = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // Fields after the name: [2] pgrp, [11] utime, [12] stime, [21] rss (pages).
    if (Number(f[2]) !== pgid) continue;
    ticks += Number(f[11]) + Number(f[12]);
    rssBytes += Number(f[21]) * PAGE;
  }
  return { ticks, rssBytes };
}

/**
 * A task's usage from /proc: CPU over `windowMs` (two samples of the group's ticks), memory as
 * the cgroup's usage when the task has one, else the sum of its processes' resident sets.
 */
export async function processUsage(pgid: number, cgroupProcs: string | undefined, windowMs = 250): Promise<TaskUsage> {
  const first = groupSample(pgid);
  const began = Date.now();
  await new Promise((r) => setTimeout(r, windowMs));
  const second = groupSample(pgid);
  const elapsed = (Date.now() - began) / 1000;
  const cpuPercent = elapsed > 0 ? Math.max(0, ((second.ticks - first.ticks) / TICKS / elapsed) * 100) : 0;
  const usage: TaskUsage = { cpuPercent: Math.round(cpuPercent * 100) / 100, memoryBytes: second.rssBytes, time: Date.now() };
  if (cgroupProcs) {
    const dir = path.dirname(cgroupProcs);
    const current = await readNumber(path.join(dir, 'memory.current')) ?? (await readNumber(path.join(dir, 'memory.usage_in_bytes')));
    if (current !== undefined) usage.memoryBytes = current;
    const limit = (await readNumber(path.join(dir, 'memory.max'))) ?? (await readNumber(path.join(dir, 'memory.limit_in_bytes')));
    if (limit !== undefined && limit < 2 ** 62) usage.memoryLimitBytes = limit;
  }
  return usage;
}

async function readNumber(file: string): Promise<number | undefined> {
  try {
    const text = (await readFile(file, 'utf8')).trim();
    return /^\d+$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}
