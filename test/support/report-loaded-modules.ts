/**
 * Loaded with `node --import` into a process under test: writes `loaded <url>`
 * to stderr for every file the process loads, so that a test can tell what a
 * command pulled in (the CLIs load the gateway or the connector only for the
 * commands that run them).
 */
import { registerHooks } from 'node:module';

registerHooks({
  load(url, context, nextLoad) {
    if (url.startsWith('file:')) process.stderr.write(`loaded ${url}\n`);
    return nextLoad(url, context);
  },
});
