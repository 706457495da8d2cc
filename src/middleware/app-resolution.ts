import type { RequestHandler } from 'express';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AppConfig } from '../config/parse.ts';
import { appResolutionStep, createAppTable, type AppTable } from '../request/app-resolution.ts';
import { expressStep } from './express-step.ts';

export interface AppResolutionOptions {
  readonly apps: readonly AppConfig[];
  /** `reject` answers 404 for hosts that publish no app; `next` leaves them to the host application. */
  readonly unknownHost?: 'reject' | 'next';
  readonly audit?: AuditLog;
  /** The table to resolve with, shared with the other steps that need the app; default: one built from `apps`. */
  readonly table?: AppTable;
}

/** App resolution, mounted: the Host header selects the published app; an unknown host is refused (or left to you). */
export function appResolution(options: AppResolutionOptions): RequestHandler {
  const step = appResolutionStep({ table: options.table ?? createAppTable(options.apps), unknownHost: options.unknownHost ?? 'reject' });
  return expressStep(step, options.audit);
}
