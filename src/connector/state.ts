/**
 * The connector's state directory (docs/connector-protocol.md, last section):
 * mode 0700, every file 0600 and written atomically (src/store/atomic-file.ts); the key
 * and certificate are swapped as one change (identity-files.ts). Loading
 * validates everything it reads and names the file that is wrong.
 */
import { chmod, mkdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { certificateBundleToPem, parseCertificateBundle } from '../pki/pem.ts';
import { removeTempFiles, writeFileAtomic } from '../store/atomic-file.ts';
import { AllowEntryError, TargetAllowList } from './allow-list.ts';
import { ConnectorError } from '../errors/connector-error.ts';
import { loadIdentity, type ClientIdentity, type LoadOptions } from './identity-files.ts';
import { readStateFile, requireStateFile, stateError, STATE_FILES } from './state-files.ts';

export { STATE_FILES } from './state-files.ts';
export { certificateMatchesKey, loadIdentity, writeIdentity } from './identity-files.ts';
export type { ClientIdentity, IdentitySwapStep, LoadOptions, WriteIdentityOptions } from './identity-files.ts';

/** `connector.json`. */
export interface ConnectorRecord {
  readonly connectorId: string;
  readonly group: string;
  readonly serviceUrl: string;
  readonly registeredAt: string;
}

export interface ConnectorState {
  readonly dir: string;
  readonly record: ConnectorRecord;
  readonly identity: ClientIdentity;
  /** The connector CA chain the service returned. */
  readonly caChainPem: string;
  /** The CA that signs the service's TLS certificate, when one was given at registration. */
  readonly serviceCaPem: string | undefined;
}

const allowListSchema = z.object({ allow: z.array(z.string()) });

const recordSchema = z.object({
  connectorId: z.string().min(1).max(200),
  group: z.string().min(1).max(200),
  serviceUrl: z.url({ protocol: /^https$/ }),
  registeredAt: z.iso.datetime(),
});

/** Creates the directory (and parents) if needed, and makes it 0700. */
export async function ensureStateDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // mkdir's mode is narrowed by the umask and ignored for an existing directory.
    await chmod(dir, 0o700);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
    throw new ConnectorError(
      'ERR_STATE_INVALID',
      `${dir}: cannot create or use the state directory (${code}). Pass another one with --state-dir DIR or run as a user who may write there.`,
      { reason: code, cause: error },
    );
  }
}

/** Deletes temporary files that a killed writer left behind. Only for the process that writes. */
export async function removeStaleTempFiles(dir: string): Promise<void> {
  // A state directory that cannot be listed is reported by whatever reads it next.
  await removeTempFiles(dir).catch(() => undefined);
}

/** Whether `connector.json` exists: the last file registration writes. */
export async function hasRegistration(dir: string): Promise<boolean> {
  return (await readStateFile(dir, STATE_FILES.record)) !== undefined;
}

export async function readRecord(dir: string): Promise<ConnectorRecord> {
  const text = await readStateFile(dir, STATE_FILES.record);
  if (text === undefined) {
    throw new ConnectorError(
      'ERR_NOT_REGISTERED',
      `${dir} holds no registration. Register this connector first: gatehouse-connector register --service URL --state-dir ${dir}`,
      { reason: 'not_registered' },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw stateError(dir, STATE_FILES.record, 'is not JSON. Register again with --force.', error);
  }
  const parsed = recordSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
    throw stateError(dir, STATE_FILES.record, `is not a connector record (${issues}). Register again with --force.`);
  }
  return Object.freeze({ ...parsed.data });
}

export async function writeRecord(dir: string, record: ConnectorRecord): Promise<void> {
  const { connectorId, group, serviceUrl, registeredAt } = record;
  await writeFileAtomic(join(dir, STATE_FILES.record), `${JSON.stringify({ connectorId, group, serviceUrl, registeredAt }, null, 2)}\n`);
}

/** Removes `connector.json`, so that a crash during re-registration leaves "not registered", not a mix. */
export async function removeRecord(dir: string): Promise<void> {
  await unlink(join(dir, STATE_FILES.record)).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}

async function readBundle(dir: string, file: string, required: boolean): Promise<string | undefined> {
  const text = required ? await requireStateFile(dir, file) : await readStateFile(dir, file);
  if (text === undefined) return undefined;
  const bundle = parseCertificateBundle(text);
  if (!bundle.ok) throw stateError(dir, file, `is not a PEM certificate bundle (it ${bundle.problem}). Register again with --force.`);
  return certificateBundleToPem(bundle.certificates);
}

export async function writeCaChain(dir: string, pem: string): Promise<void> {
  await writeFileAtomic(join(dir, STATE_FILES.caChain), pem);
}

/** Writes `service-ca.crt`, or removes it when the service is trusted through the system roots. */
export async function writeServiceCa(dir: string, pem: string | undefined): Promise<void> {
  if (pem !== undefined) {
    await writeFileAtomic(join(dir, STATE_FILES.serviceCa), pem);
    return;
  }
  await unlink(join(dir, STATE_FILES.serviceCa)).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}

/**
 * The local allow-list kept by `register --allow` or `run --allow`, or
 * undefined when there is none. A file that cannot be read as one stops the
 * connector rather than leave it without the bound its operator set.
 */
export async function readAllowList(dir: string): Promise<TargetAllowList | undefined> {
  const text = await readStateFile(dir, STATE_FILES.allowList);
  if (text === undefined) return undefined;
  const problem = 'Fix it, or remove it to let the connector dial any address the service configures, or set it again with --allow.';
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw stateError(dir, STATE_FILES.allowList, `is not JSON. ${problem}`, error);
  }
  const parsed = allowListSchema.safeParse(json);
  if (!parsed.success) throw stateError(dir, STATE_FILES.allowList, `is not an allow-list ({ "allow": ["10.0.0.0/8", …] }). ${problem}`);
  try {
    return TargetAllowList.parse(parsed.data.allow);
  } catch (error) {
    if (!(error instanceof AllowEntryError)) throw error;
    throw stateError(dir, STATE_FILES.allowList, `${error.message} ${problem}`, error);
  }
}

export async function writeAllowList(dir: string, list: TargetAllowList): Promise<void> {
  await writeFileAtomic(join(dir, STATE_FILES.allowList), `${JSON.stringify({ allow: list.texts }, null, 2)}\n`);
}

/** Everything `run` and `status` need, validated. */
export async function loadState(dir: string, options: LoadOptions = {}): Promise<ConnectorState> {
  const record = await readRecord(dir);
  const identity = await loadIdentity(dir, options);
  const caChainPem = await readBundle(dir, STATE_FILES.caChain, true);
  const serviceCaPem = await readBundle(dir, STATE_FILES.serviceCa, false);
  return Object.freeze({ dir, record, identity, caChainPem: caChainPem ?? '', serviceCaPem });
}
