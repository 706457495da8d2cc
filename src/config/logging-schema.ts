import { z } from 'zod';
import { LOG_FORMATS, LOG_LEVELS } from '../logging/logger.ts';

/**
 * `logging`: the operational log of `gatehouse serve` (its level and format; `--log-level` and `--log-format` win)
 * and the access log, one line per request at `info`. A gateway built without a logger stays silent whatever this says.
 */
export const loggingSchema = z
  .strictObject({
    level: z.enum(LOG_LEVELS).default('info'),
    format: z.enum(LOG_FORMATS).default('json'),
    accessLog: z
      .strictObject({
        enabled: z.boolean().default(true),
        /** Log the query string, with values of parameters that carry secrets (code, state, tokens, passwords, …) redacted. */
        query: z.boolean().default(false),
      })
      .prefault({}),
  })
  .prefault({});

export type LoggingConfig = z.output<typeof loggingSchema>;
