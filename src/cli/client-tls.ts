import { Option, type Command } from 'commander';
import { CliError, EXIT_USAGE } from './errors.ts';

/** The client TLS settings of a command, from its flags or BERTH_* variables. */
export interface ClientTlsFlags {
  caCert?: string;
  clientCert?: string;
  clientKey?: string;
  tlsServerName?: string;
}

/** Commands that take no client TLS settings: they make certificates, or serve rather than call. */
const NOT_CLIENTS = new Set(['tls', 'dev', 'version', 'completion']);

/**
 * Give every client command `--ca-cert`, `--client-cert`, `--client-key` and `--tls-server-name`
 * (BERTH_CACERT, BERTH_CLIENT_CERT, BERTH_CLIENT_KEY, BERTH_TLS_SERVER_NAME), as Nomad's CLI has them.
 */
export function addClientTlsOptions(root: Command): void {
  const visit = (cmd: Command, top: string | undefined): void => {
    if (top !== undefined && NOT_CLIENTS.has(top)) return;
    if (cmd.commands.length === 0 && top !== undefined) {
      cmd
        .addOption(new Option('--ca-cert <file>', 'CA certificate to verify the server with (for an https:// BERTH_ADDR)').env('BERTH_CACERT'))
        .addOption(new Option('--client-cert <file>', 'client certificate for a server that verifies them').env('BERTH_CLIENT_CERT'))
        .addOption(new Option('--client-key <file>', 'key of the client certificate').env('BERTH_CLIENT_KEY'))
        .addOption(new Option('--tls-server-name <name>', "name the server's certificate must carry (default server.global.berth when a CA is given)").env('BERTH_TLS_SERVER_NAME'));
    }
    for (const sub of cmd.commands) visit(sub, top ?? sub.name());
  };
  visit(root, undefined);
}

/**
 * Before a command runs: with any client TLS setting, make every client of this process trust the
 * CA, present the certificate and check the server's role name. The tls layer (and with it undici)
 * is loaded only then, and the api layer only here, so `berth version` stays light.
 */
export async function useClientTls(cmd: Command): Promise<void> {
  const opts = cmd.opts<ClientTlsFlags>();
  if (!opts.caCert && !opts.clientCert && !opts.clientKey) return;
  const [{ ClientTls }, { setDefaultTransport }] = await Promise.all([import('../tls/index.ts'), import('../api/index.ts')]);
  try {
    setDefaultTransport(ClientTls.load({ ca: opts.caCert, cert: opts.clientCert, key: opts.clientKey }, { peerNames: opts.tlsServerName ? [opts.tlsServerName] : undefined }));
  } catch (err) {
    throw new CliError(`Cannot use the TLS settings: ${(err as Error).message}`, EXIT_USAGE);
  }
}
