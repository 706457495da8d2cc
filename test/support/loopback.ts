import type { LookupFunction } from 'node:net';

/** Resolves every name to 127.0.0.1, so test clients can use the published hosts' names. */
export const toLoopback: LookupFunction = (_hostname, options, callback) => {
  if (typeof options === 'object' && options.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
  else callback(null, '127.0.0.1', 4);
};
