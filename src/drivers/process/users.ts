import { readFile } from 'node:fs/promises';

/** A user a task runs as. */
export interface TaskUser {
  uid: number;
  gid: number;
  /** From /etc/passwd, when the user is listed there. */
  home?: string;
  name?: string;
}

/**
 * Resolves `user[:group]` (names or numbers) through /etc/passwd and /etc/group. A numeric uid
 * need not be listed; its group is then the uid's number, as Docker does.
 */
export async function resolveUser(spec: string, files = { passwd: '/etc/passwd', group: '/etc/group' }): Promise<{ ok: true; user: TaskUser } | { ok: false; reason: string }> {
  const [userPart, groupPart] = spec.split(':');
  const passwd = await table(files.passwd);
  const entry = passwd.find((f) => f[0] === userPart || (/^\d+$/.test(userPart) && f[2] === userPart));
  if (!entry && !/^\d+$/.test(userPart)) return { ok: false, reason: `user "${userPart}" does not exist on this host (not in ${files.passwd})` };
  const uid = entry ? Number(entry[2]) : Number(userPart);
  let gid = entry ? Number(entry[3]) : uid;
  if (groupPart !== undefined) {
    if (/^\d+$/.test(groupPart)) gid = Number(groupPart);
    else {
      const g = (await table(files.group)).find((f) => f[0] === groupPart);
      if (!g) return { ok: false, reason: `group "${groupPart}" does not exist on this host (not in ${files.group})` };
      gid = Number(g[2]);
    }
  }
  const user: TaskUser = { uid, gid };
  if (entry) {
    user.name = entry[0];
    user.home = entry[5];
  }
  return { ok: true, user };
}

async function table(file: string): Promise<string[][]> {
  try {
    return (await readFile(file, 'utf8')).split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':'));
  } catch {
    return [];
  }
}
