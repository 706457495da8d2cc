import { parseGatewayConfig } from '../../src/config/parse.ts';
import { GatehouseConfigError } from '../../src/errors/index.ts';

/** The issues parseGatewayConfig reports for `input`; none when it accepts it. Any other error is thrown. */
export function configIssues(input: Record<string, unknown>): string[] {
  try {
    parseGatewayConfig(input);
  } catch (error) {
    if (error instanceof GatehouseConfigError) return [...error.issues];
    throw error;
  }
  return [];
}
