/** An exec terminal in the browser: xterm.js over the exec WebSocket (stdin up, stdout and stderr down, base64 in JSON). */
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import '@xterm/xterm/css/xterm.css';
import { api, currentToken } from '../api.ts';

function b64ToBytes(b64: string): Uint8Array {
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

function bytesToB64(text: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}

/** Open a session running `command` in a task, drawn in a terminal. */
export function ExecTerminal({ allocId, task, command }: { allocId: string; task: string; command: string[] }): ReactNode {
  const host = useRef<HTMLDivElement>(null);
  const [status, setStatus] = useState('connecting…');
  useEffect(() => {
    const term = new Terminal({ fontSize: 13, convertEol: true, theme: { background: '#000000' } });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(host.current!);
    fit.fit();
    // A WebSocket takes no headers: the token goes as a subprotocol, which the server reads.
    const token = currentToken();
    const ws = new WebSocket(api().allocExecUrl(allocId, { task, command, tty: true }), token ? ['berth', `berth.token.${token}`] : undefined);
    const send = (msg: object): void => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
    };
    ws.onopen = () => {
      setStatus('connected');
      send({ resize: { cols: term.cols, rows: term.rows } });
      term.focus();
    };
    ws.onmessage = (m) => {
      const msg = JSON.parse(String(m.data)) as { stdout?: string; stderr?: string; exit?: number; error?: string };
      if (msg.stdout) term.write(b64ToBytes(msg.stdout));
      if (msg.stderr) term.write(b64ToBytes(msg.stderr));
      if (msg.exit !== undefined) setStatus(`exited with ${msg.exit}`);
      if (msg.error) setStatus(msg.error);
    };
    ws.onclose = () => setStatus((s) => (s === 'connected' ? 'closed' : s));
    const input = term.onData((d) => send({ stdin: bytesToB64(d) }));
    return () => {
      input.dispose();
      ws.close();
      term.dispose();
    };
  }, [allocId, task, command]);
  return (
    <div>
      <p className="muted" role="status">
        {command.join(' ')} in {task}: {status}
      </p>
      <div className="term" ref={host} data-testid="terminal" />
    </div>
  );
}
