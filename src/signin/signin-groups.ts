import type { GroupsEndpointConfig } from '../config/groups-schema.ts';
import { GatehouseError } from '../errors/index.ts';
import { groupsAt } from '../session/claim-path.ts';
import { hasGroupOverage } from '../session/group-overage.ts';
import { fetchEndpointGroups } from './groups-endpoint.ts';

export interface SignInGroupsOptions {
  /** identityProvider.groupsClaim: a claim name or a dotted path. */
  readonly claim: string;
  readonly endpoint?: GroupsEndpointConfig | undefined;
  /** Seconds per request to the endpoint, unless the endpoint sets its own. */
  readonly timeoutSeconds: number;
  readonly fetch: (url: string, init: RequestInit) => Promise<Response>;
}

/**
 * A user's groups from a verified token: the configured claim, or on group overage the groups endpoint with the
 * user's access token. Overage with no endpoint, or an endpoint that fails, throws ERR_GROUPS_OVERAGE: never "no
 * groups", which would make policies that allow by group deny and those that deny by group allow.
 */
export class SignInGroups {
  readonly #options: SignInGroupsOptions;

  constructor(options: SignInGroupsOptions) {
    this.#options = options;
  }

  /** The claim (or dotted path) groups are read from. */
  get claim(): string {
    return this.#options.claim;
  }

  async resolve(claims: Readonly<Record<string, unknown>>, accessToken: string | undefined): Promise<string[]> {
    if (!hasGroupOverage(claims)) return groupsAt(claims, this.#options.claim);
    const endpoint = this.#options.endpoint;
    if (!endpoint) throw new GatehouseError('ERR_GROUPS_OVERAGE', 'groups_overage');
    return fetchEndpointGroups(accessToken, {
      settings: endpoint,
      timeoutSeconds: endpoint.timeoutSeconds ?? this.#options.timeoutSeconds,
      fetch: this.#options.fetch,
    });
  }
}
