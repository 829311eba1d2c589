import dgram from 'node:dgram';
import net from 'node:net';
import { Command, InvalidArgumentError, Option } from 'commander';
import dnsPacket, { type Answer, type RecordType } from 'dns-packet';
import { CliError } from '../errors.ts';
import { printJson } from '../output.ts';

const TYPES = ['A', 'AAAA', 'SRV', 'SOA', 'NS', 'ANY', 'TXT'];

function server(value: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?(?::(\d{1,5}))?$/.exec(value);
  if (!m || !m[1]) throw new InvalidArgumentError(`expected host[:port], got "${value}"`);
  return { host: m[1], port: Number(m[2] ?? 7453) };
}

/** One query over UDP; undefined on timeout. */
function overUdp(query: Buffer, to: { host: string; port: number }, timeoutMs: number): Promise<Buffer | undefined> {
  const sock = dgram.createSocket(net.isIPv6(to.host) ? 'udp6' : 'udp4');
  return new Promise((resolve) => {
    const done = (b: Buffer | undefined): void => {
      clearTimeout(timer);
      sock.close();
      resolve(b);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    sock.on('message', (m) => done(m));
    sock.on('error', () => done(undefined));
    sock.send(query, to.port, to.host);
  });
}

/** One query over TCP (after a truncated UDP answer). */
function overTcp(query: Buffer, to: { host: string; port: number }, timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const sock = net.connect(to.port, to.host);
    let buf = Buffer.alloc(0);
    const done = (b: Buffer | undefined): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(b);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    sock.on('error', () => done(undefined));
    sock.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (buf.length >= 2 && buf.length >= buf.readUInt16BE(0) + 2) done(buf.subarray(2, buf.readUInt16BE(0) + 2));
    });
    const len = Buffer.alloc(2);
    len.writeUInt16BE(query.length);
    sock.write(Buffer.concat([len, query]));
  });
}

function show(answer: Answer): string {
  const a = answer as { name: string; type: string; ttl?: number; data?: unknown };
  const data = typeof a.data === 'object' && a.data !== null && !Buffer.isBuffer(a.data) ? Object.values(a.data).join(' ') : String(a.data);
  return `${a.name}\t${a.ttl ?? 0}\tIN\t${a.type}\t${data}`;
}

/** `berth dns query NAME [TYPE]`: ask berth's DNS server as a resolver would. */
export function dnsCommand(): Command {
  const dns = new Command('dns').description("Query berth's DNS server");
  dns
    .command('query')
    .description('Send one DNS query (UDP, then TCP when the answer is truncated) and print the answer')
    .argument('<name>', 'e.g. web.service.berth, _web._tcp.service.berth, node1.node.berth')
    .argument('[type]', `record type: ${TYPES.join(', ')}`, 'A')
    .addOption(new Option('--server <host:port>', 'the DNS server').env('BERTH_DNS_ADDR').argParser(server).default(server('127.0.0.1:7453'), '127.0.0.1:7453'))
    .option('--json', 'print JSON')
    .action(async (name: string, type: string, opts: { server: { host: string; port: number }; json?: boolean }) => {
      const qtype = type.toUpperCase();
      if (!TYPES.includes(qtype)) throw new CliError(`Cannot query type "${type}": use one of ${TYPES.join(', ')}`, 2);
      const query = dnsPacket.encode({ type: 'query', id: Math.floor(Math.random() * 65535), flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: qtype as RecordType }] });
      let raw = await overUdp(query, opts.server, 3000);
      let transport = 'udp';
      if (raw && dnsPacket.decode(raw).flag_tc) {
        raw = await overTcp(query, opts.server, 3000);
        transport = 'tcp';
      }
      if (!raw) throw new CliError(`Cannot query ${opts.server.host}:${opts.server.port}: no answer within 3s (is berth serving DNS there? see --dns-addr)`);
      const p = dnsPacket.decode(raw) as ReturnType<typeof dnsPacket.decode> & { rcode: string };
      if (opts.json) return printJson({ rcode: p.rcode, transport, answers: p.answers, additionals: p.additionals, authorities: p.authorities });
      const lines = [`;; status: ${p.rcode}, ${p.answers?.length ?? 0} answers, over ${transport}`];
      if (p.answers?.length) lines.push(';; ANSWER', ...p.answers.map(show));
      const extra = (p.additionals ?? []).filter((a) => a.type !== 'OPT');
      if (extra.length) lines.push(';; ADDITIONAL', ...extra.map(show));
      if (p.authorities?.length) lines.push(';; AUTHORITY', ...p.authorities.map(show));
      process.stdout.write(lines.join('\n') + '\n');
      if (p.rcode !== 'NOERROR') process.exitCode = 1;
    });
  return dns;
}
