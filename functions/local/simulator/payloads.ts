/** The sample data the simulated APIs answer with: stable per store, shaped as the real services'. */
import { stableId } from './random';

/** Lightspeed X-Series `GET /api/2.0/<resource>`. */
export function lightspeedPayload(domainPrefix: string, resource: string): Record<string, unknown> {
  const version = { min: 1, max: 2 };
  if (resource === 'outlets') {
    return {
      data: [
        {
          id: stableId(domainPrefix, 'outlet', '1'),
          name: 'Main Street',
          time_zone: 'Pacific/Auckland',
          currency: 'NZD',
          currency_symbol: '$',
          display_prices: 'inclusive',
          version: 1,
        },
        {
          id: stableId(domainPrefix, 'outlet', '2'),
          name: 'Harbour Kiosk',
          time_zone: 'Pacific/Auckland',
          currency: 'NZD',
          currency_symbol: '$',
          display_prices: 'inclusive',
          version: 2,
        },
      ],
      version,
    };
  }
  if (resource === 'users') {
    return {
      data: [
        {
          id: stableId(domainPrefix, 'user', 'admin'),
          username: 'admin',
          display_name: 'Store Admin',
          email: `admin@${domainPrefix}.example`,
          account_type: 'admin',
          is_primary_user: true,
          version: 1,
        },
        {
          id: stableId(domainPrefix, 'user', 'cashier'),
          username: 'cashier',
          display_name: 'Front Counter',
          email: `cashier@${domainPrefix}.example`,
          account_type: 'cashier',
          is_primary_user: false,
          version: 2,
        },
      ],
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
