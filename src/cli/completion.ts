/**
 * Shell completion scripts for bash, zsh and fish, generated from the command tree itself, so that
 * a new command or flag is completed without anyone editing a script. Each script finds where the
 * words typed so far lead in the tree (skipping flags and their values), then offers that command's
 * subcommands, or its flags after a `-`, or files where a command takes no subcommand.
 */
import type { Command } from 'commander';

/** One command of the tree as completion sees it. */
export interface CompletionEntry {
  /** `/job/run`; `''` for berth itself. */
  path: string;
  commands: { name: string; description: string }[];
  flags: { flag: string; description: string }[];
}

/** The shells there is a script for. */
export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

/** The tree under `root` as a list of entries, parents before children. */
export function completionEntries(root: Command, path = ''): CompletionEntry[] {
  const subs = root.commands.filter((c) => c.name() !== 'help');
  const flags = [...root.options, root.createOption('-h, --help', 'display help for command')].flatMap((o) => [
    ...(o.long ? [{ flag: o.long, description: o.description }] : []),
    ...(o.short ? [{ flag: o.short, description: o.description }] : []),
  ]);
  const entry = { path, commands: subs.map((c) => ({ name: c.name(), description: firstLine(c.description()) })), flags };
  return [entry, ...subs.flatMap((c) => completionEntries(c, `${path}/${c.name()}`))];
}

/** The script for one shell. */
export function completionScript(shell: Shell, entries: CompletionEntry[]): string {
  if (shell === 'bash') return bashScript(entries);
  if (shell === 'zsh') return zshScript(entries);
  return fishScript(entries);
}

function firstLine(text: string): string {
  return text.split('\n')[0].replace(/\s+/g, ' ').trim();
}

/** Paths that are commands, as a shell `case` pattern list: `/job|/job/run|...`. */
function knownPaths(entries: CompletionEntry[]): string {
  return entries.filter((e) => e.path !== '').map((e) => `"${e.path}"`).join('|');
}

function bashScript(entries: CompletionEntry[]): string {
  const cases = entries.map((e) => `    "${e.path}") cmds="${e.commands.map((c) => c.name).join(' ')}"; flags="${e.flags.map((f) => f.flag).join(' ')}" ;;`);
  return `# berth completion for bash. Load it with: source <(berth completion bash)
_berth_completions() {
  local cur=\${COMP_WORDS[COMP_CWORD]} p="" w i cmds="" flags=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    # After --, the words are a command of the user's (alloc exec, lock): complete files.
    [[ $w == -- ]] && return 0
    case "$p/$w" in
      ${knownPaths(entries)}) p="$p/$w" ;;
    esac
  done
  case "$p" in
${cases.join('\n')}
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  elif [[ -n $cmds ]]; then
    COMPREPLY=($(compgen -W "$cmds" -- "$cur"))
  fi
}
complete -o default -F _berth_completions berth
`;
}

/** Single-quoted for zsh and fish. */
function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function zshScript(entries: CompletionEntry[]): string {
  const cases = entries.map((e) => {
    const cmds = e.commands.map((c) => quote(`${c.name}:${c.description}`)).join(' ');
    const flags = e.flags.map((f) => quote(f.flag)).join(' ');
    return `    ("${e.path}") cmds=(${cmds}); flags=(${flags}) ;;`;
  });
  return `#compdef berth
# berth completion for zsh. Load it with: source <(berth completion zsh), or save it as _berth in $fpath.
_berth() {
  local p="" w i
  local -a cmds flags
  for ((i = 2; i < CURRENT; i++)); do
    w=\${words[i]}
    [[ $w == -- ]] && { _files; return; }
    case "$p/$w" in
      (${knownPaths(entries)}) p="$p/$w" ;;
    esac
  done
  case "$p" in
${cases.join('\n')}
  esac
  if [[ \${words[CURRENT]} == -* ]]; then
    compadd -- $flags
  elif (( \${#cmds} )); then
    _describe 'command' cmds
  else
    _files
  fi
}
if [[ "\${funcstack[1]}" == _berth ]]; then _berth "$@"; else compdef _berth berth; fi
`;
}

function fishScript(entries: CompletionEntry[]): string {
  const lines: string[] = [];
  for (const e of entries) {
    const at = `-n "__berth_at '${e.path}'"`;
    // Where subcommands are the answer, no files.
    if (e.commands.length > 0) lines.push(`complete -c berth ${at} -f`);
    for (const c of e.commands) lines.push(`complete -c berth ${at} -f -a ${quote(c.name)} -d ${quote(c.description)}`);
    for (const f of e.flags) {
      const flag = f.flag.startsWith('--') ? `-l ${quote(f.flag.slice(2))}` : `-s ${quote(f.flag.slice(1))}`;
      lines.push(`complete -c berth ${at} ${flag} -d ${quote(f.description)}`);
    }
  }
  const paths = entries.filter((e) => e.path !== '').map((e) => quote(e.path)).join(' ');
  return `# berth completion for fish. Load it with: berth completion fish | source
function __berth_path
    set -l p ''
    for w in (commandline -opc)[2..-1]
        contains -- "$p/$w" ${paths}; and set p "$p/$w"
    end
    echo $p
end
function __berth_at
    set -l p (__berth_path)
    test "$p" = "$argv[1]"
end
${lines.join('\n')}
`;
}
