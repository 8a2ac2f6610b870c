// Where a webhook may point. The engine makes the request, from inside the operator's network,
// so an endpoint on a private or link-local address would let whoever adds it probe that
// network or read a cloud metadata service (169.254.169.254). https only; plain http only to
// this machine (a receiver under development); a host name counts by every address it resolves
// to now. Delivery must check the address it connects to again: a name can resolve elsewhere later.
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { DunningError } from './errors';

/** A host name's addresses (node:dns `lookup` with `all: true` unless a test gives its own). */
export type ResolveHost = (host: string) => Promise<string[]>;

export const resolveHost: ResolveHost = async (host) => (await lookup(host, { all: true })).map((a) => a.address);

export interface WebhookUrlRules {
  /** webhooks.allowPrivateNetworks: private and carrier-grade NAT addresses let through. */
  allowPrivateNetworks: boolean;
  resolve?: ResolveHost;
}

type Kind = 'loopback' | 'private' | 'carrier-grade NAT' | 'link-local' | 'unspecified' | 'multicast' | 'reserved';

function blockList(subnets: Array<[string, number]>): BlockList {
  const list = new BlockList();
  for (const [network, prefix] of subnets) list.addSubnet(network, prefix, network.includes(':') ? 'ipv6' : 'ipv4');
  return list;
}

// IPv4 rules match IPv4-mapped IPv6 addresses too (::ffff:10.0.0.1), as BlockList checks them.
const kinds: Array<[Kind, BlockList]> = [
  ['loopback', blockList([['127.0.0.0', 8], ['::1', 128]])],
  ['unspecified', blockList([['0.0.0.0', 8], ['::', 128]])],
  ['private', blockList([['10.0.0.0', 8], ['172.16.0.0', 12], ['192.168.0.0', 16], ['fc00::', 7]])],
  ['carrier-grade NAT', blockList([['100.64.0.0', 10]])],
  ['link-local', blockList([['169.254.0.0', 16], ['fe80::', 10]])],
  ['multicast', blockList([['224.0.0.0', 4], ['ff00::', 8]])],
  ['reserved', blockList([['240.0.0.0', 4]])],
];

/** What kind of address it is, or undefined for a public one. */
export function addressKind(address: string): Kind | undefined {
  const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
  return kinds.find(([, list]) => list.check(address, family))?.[0];
}

/** Kinds that webhooks.allowPrivateNetworks lets through; the others never make sense as a receiver. */
const privateNetworkKinds: ReadonlySet<Kind> = new Set(['private', 'carrier-grade NAT']);

const MAX_URL_LENGTH = 2000;

const refuse = (message: string) => new DunningError(message, 'invalid');

/**
 * The URL as it will be called (normalised by WHATWG URL parsing), or the `invalid` refusal
 * with one sentence saying what is wrong with it.
 */
export async function checkWebhookUrl(raw: string, rules: WebhookUrlRules): Promise<string> {
  if (raw.length > MAX_URL_LENGTH) throw refuse(`Webhook URL is longer than ${MAX_URL_LENGTH} characters.`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refuse(`Webhook URL "${raw}" is not a URL.`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw refuse(`Webhook URL "${raw}" must use https (plain http only to this machine).`);
  if (url.username || url.password) {
    // Not echoed: the sentence lands in terminals, logs and HTTP answers.
    url.username = url.password = '';
    throw refuse(`Webhook URL "${url.href}" must not contain a user name or password (the signature authenticates each event).`);
  }

  // [::1] comes bracketed; a trailing dot names the same host.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  const literal = isIP(host) !== 0;
  if (!literal && host === 'localhost') return url.href;
  if (url.protocol === 'http:' && !(literal && addressKind(host) === 'loopback')) {
    throw refuse(`Webhook URL "${raw}" must use https (plain http only to this machine).`);
  }

  let addresses: string[];
  if (literal) addresses = [host];
  else {
    try {
      addresses = await (rules.resolve ?? resolveHost)(host);
    } catch {
      throw refuse(`Webhook URL "${raw}" names a host, "${host}", that does not resolve.`);
    }
    if (addresses.length === 0) throw refuse(`Webhook URL "${raw}" names a host, "${host}", that does not resolve.`);
  }
  for (const address of addresses) {
    const kind = addressKind(address);
    if (kind === undefined || kind === 'loopback') continue;
    if (rules.allowPrivateNetworks && privateNetworkKinds.has(kind)) continue;
    const described = `${kind === 'unspecified' ? 'an' : 'a'} ${kind} address`;
    const where = literal ? `points to ${described}` : `names a host that resolves to ${address}, ${described}`;
    const remedy = privateNetworkKinds.has(kind) ? ' (set webhooks.allowPrivateNetworks to send inside your own network)' : ', where no webhook may go';
    throw refuse(`Webhook URL "${raw}" ${where}${remedy}.`);
  }
  return url.href;
}
