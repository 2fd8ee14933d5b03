/** The sample data the simulated APIs answer with: stable per store, shaped as the real services'. */
import { stableId } from './random';

const OUTLETS = [
  { key: '1', name: 'Main Street' },
  { key: '2', name: 'Harbour Kiosk' },
];
const USERS = [
  { username: 'admin', display_name: 'Store Admin', account_type: 'admin', is_primary_user: true },
  { username: 'cashier', display_name: 'Front Counter', account_type: 'cashier', is_primary_user: false },
];

/** Lightspeed X-Series `GET /api/2.0/<resource>`. */
export function lightspeedPayload(domainPrefix: string, resource: string): Record<string, unknown> {
  const version = { min: 1, max: 2 };
  if (resource === 'outlets') {
    return {
      data: OUTLETS.map(({ key, name }, index) => ({
        id: stableId(domainPrefix, 'outlet', key),
        name,
        time_zone: 'Pacific/Auckland',
        currency: 'NZD',
        currency_symbol: '$',
        display_prices: 'inclusive',
        version: index + 1,
      })),
      version,
    };
  }
  if (resource === 'users') {
    return {
      data: USERS.map((user, index) => ({
        id: stableId(domainPrefix, 'user', user.username),
        username: user.username,
        display_name: user.display_name,
        email: `${user.username}@${domainPrefix}.example`,
        account_type: user.account_type,
        is_primary_user: user.is_primary_user,
        version: index + 1,
      })),
      version,
    };
  }
  return { data: [], version: { min: 0, max: 0 } };
}

/** Xentral `GET /api/<resource>`. */
export function xentralPayload(instance: string, resource: string): Record<string, unknown> {
  if (resource === 'v1/users') {
    const data = [
      { id: 1, username: 'admin', email: `admin@${instance}.example`, firstName: 'Ada', lastName: 'Admin' },
      { id: 2, username: 'lager', email: `lager@${instance}.example`, firstName: 'Lars', lastName: 'Lager' },
    ];
    return { data, extra: { totalCount: data.length, page: { number: 1, size: 10 } } };
  }
  return { data: [], extra: { totalCount: 0, page: { number: 1, size: 10 } } };
}
