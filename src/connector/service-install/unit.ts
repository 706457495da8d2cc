/**
 * The files `gatehouse-connector service install` writes, as text: the
 * hardened systemd unit and the optional settings file. The copies in
 * examples/connector-service/ are these, rendered with the defaults, so the
 * documented unit and the installed one cannot drift apart.
 */
import { posix } from 'node:path';
import { ServiceInstallError } from './errors.ts';

/** Names and paths of the installed service; fixed so the unit, the README and `status` agree. */
export const CONNECTOR_SERVICE = Object.freeze({
  name: 'gatehouse-connector',
  user: 'gatehouse-connector',
  unitPath: '/etc/systemd/system/gatehouse-connector.service',
  stateDir: '/var/lib/gatehouse-connector',
  configDir: '/etc/gatehouse-connector',
  envFile: '/etc/gatehouse-connector/connector.env',
  defaultExecPath: '/usr/local/bin/gatehouse-connector',
});

export interface ConnectorUnitOptions {
  /** Absolute path of the `gatehouse-connector` binary for ExecStart. */
  readonly execPath?: string;
}

/** Checks a path systemd will read unquoted in ExecStart: absolute, and nothing it would expand or split. */
export function checkExecPath(path: string): string {
  if (!posix.isAbsolute(path) || /[\s"'\\$%;]/.test(path)) {
    throw new ServiceInstallError(
      'ERR_INSTALL_ARGUMENT',
      `--bin must be an absolute path without spaces, quotes, "$", "%" or "\\" (got ${JSON.stringify(path)})`,
    );
  }
  return path;
}

/** The unit file, byte for byte. */
export function renderConnectorUnit(options: ConnectorUnitOptions = {}): string {
  const exec = checkExecPath(options.execPath ?? CONNECTOR_SERVICE.defaultExecPath);
  const { user, stateDir, envFile, name } = CONNECTOR_SERVICE;
  return `# Gatehouse connector as a systemd service: dials out to the Gatehouse service and
# carries its tunnels. Installed by \`sudo gatehouse-connector service install\`, or by
# hand as examples/connector-service/README.md says.
#
# It needs no inbound port, no privilege and no writable file but its state
# directory, so it gets none: everything below that is not needed is denied.

[Unit]
Description=Gatehouse connector (outbound tunnels to the Gatehouse service)
Wants=network-online.target
After=network-online.target
# A connector that keeps failing at start (revoked, state removed) stops being restarted
# after 5 tries in 10 minutes: \`systemctl status\` and the journal say why.
StartLimitIntervalSec=600
StartLimitBurst=5

[Service]
Type=exec
User=${user}
Group=${user}
# Defaults; ${envFile} overrides them (optional file).
Environment=GATEHOUSE_CONNECTOR_LOG_LEVEL=info GATEHOUSE_CONNECTOR_TUNNELS=2 GATEHOUSE_CONNECTOR_TRANSPORT=tls
EnvironmentFile=-${envFile}
ExecStart=${exec} run --state-dir ${stateDir} --log-level \${GATEHOUSE_CONNECTOR_LOG_LEVEL} --tunnels \${GATEHOUSE_CONNECTOR_TUNNELS} --transport \${GATEHOUSE_CONNECTOR_TRANSPORT}
# Transient failures are retried inside \`run\` with backoff; an exit means it crashed or
# needs an operator (exit 1, e.g. revoked: the message says what to do).
Restart=on-failure
RestartSec=10s
# Exit 2 is a usage error in this file: restarting cannot fix it.
RestartPreventExitStatus=2
# SIGTERM drains: in-flight streams get up to 30 s to finish.
KillSignal=SIGTERM
TimeoutStopSec=45s
# Many concurrent streams, each a socket to an internal app.
LimitNOFILE=65536

# --- State: key, certificate and CA chain, nobody else may read them -------------
StateDirectory=${posix.basename(stateDir)}
StateDirectoryMode=0700
UMask=0077

# --- Logs: JSON lines on stdout, progress on stderr, both to the journal ---------
StandardOutput=journal
StandardError=journal
SyslogIdentifier=${name}

# --- Sandbox ----------------------------------------------------------------------
NoNewPrivileges=yes
CapabilityBoundingSet=
AmbientCapabilities=
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
DevicePolicy=closed
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
ProcSubset=pid
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RemoveIPC=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged
# A denied call fails with EPERM instead of killing the process (Node tries to raise
# its file limit at start, for instance, and copes with a refusal).
SystemCallErrorNumber=EPERM
# Not set on purpose: MemoryDenyWriteExecute=yes breaks Node's JIT compiler.

[Install]
WantedBy=multi-user.target
`;
}

/** The optional settings file, written once and then left to the operator. */
export function renderConnectorEnv(): string {
  const { envFile, user } = CONNECTOR_SERVICE;
  return `# ${envFile} — optional settings of ${CONNECTOR_SERVICE.name}.service.
# Install it 0640 root:${user}. Every line is optional; the unit has defaults.
#
# Never put an administrator's token here: it is needed once, by \`register\`, and
# is never stored. The connector's own credentials live in its state directory.

# fatal, error, warn, info, debug, trace or silent (default info).
GATEHOUSE_CONNECTOR_LOG_LEVEL=info

# Tunnels kept open to the service, 1 to 16 (default 2): more spreads load and
# survives the loss of one connection without a gap.
GATEHOUSE_CONNECTOR_TUNNELS=2

# tls (HTTP/2 over TLS, the default) or websocket, for networks whose proxies
# pass only WebSocket.
GATEHOUSE_CONNECTOR_TRANSPORT=tls
`;
}
