import assert from 'node:assert/strict';
import express from 'express';
import request from 'supertest';
import { connectorErrorHandler } from '../../../src/connector-plane/connector-errors.ts';
import { createLogger } from '../../../src/logging/logger.ts';
import { StoreError } from '../../../src/store/store-error.ts';

describe('connector plane error handler', () => {
  function appThrowing(error: unknown): express.Express {
    const app = express();
    app.post('/register', () => {
      throw error;
    });
    app.use(connectorErrorHandler(createLogger()));
    return app;
  }

  it('answers a store that did not answer (Redis down) with 503 ERR_STORE_UNAVAILABLE, not an internal error', async () => {
    const response = await request(
      appThrowing(new StoreError('ERR_STORE_UNUSABLE', 'Redis did not answer the store (connect ECONNREFUSED 127.0.0.1:6379).')),
    ).post('/register');
    assert.equal(response.status, 503);
    assert.equal((response.body as { error: { code: string; reason: string } }).error.code, 'ERR_STORE_UNAVAILABLE');
    assert.equal((response.body as { error: { code: string; reason: string } }).error.reason, 'store_unreachable');
    assert.doesNotMatch(response.text, /ECONNREFUSED|6379/, 'the cause stays in the log');
  });

  it('still answers anything else it does not know with 500 ERR_INTERNAL', async () => {
    const response = await request(appThrowing(new StoreError('ERR_STORE_CLOSED', 'The store is closed.'))).post('/register');
    assert.equal(response.status, 500);
    assert.equal((response.body as { error: { code: string } }).error.code, 'ERR_INTERNAL');
  });
});
