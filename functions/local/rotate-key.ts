/**
 * `npm run rotate-key`: makes a new master key current in the local keyring. Stored tokens sealed
 * under older keys stay readable; new writes (every refresh) use the new key. Restart running local
 * brokers afterwards so they load it. (On AWS, KMS rotates the stack's key itself.)
 */
import { join, resolve } from 'node:path';
import { LocalKeyring } from '../../shared/adapters/crypto/local-keyring';
import { loadConfig } from '../../shared/config';

const config = loadConfig();
const path = join(resolve(config.dataDir), 'keyring.json');
const keyring = await LocalKeyring.open(path);
const previous = keyring.currentKeyId;
const current = await keyring.rotate();
process.stdout.write(
  `Keyring ${path}: current key ${previous} -> ${current}; older keys stay for reading.\n`,
);
