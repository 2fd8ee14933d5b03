import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { KmsKeyProvider } from '../../../../shared/adapters/crypto/kms-keys';
import { EnvelopeCipher } from '../../../../shared/domain/crypto';

const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const kms = mockClient(KMSClient);
const DATA_KEY = Buffer.alloc(32, 7);
const BLOB = Buffer.from('wrapped-by-kms');

beforeEach(() => {
  kms.reset();
  kms.on(GenerateDataKeyCommand).resolves({ Plaintext: DATA_KEY, CiphertextBlob: BLOB, KeyId: KEY_ARN });
  kms.on(DecryptCommand).resolves({ Plaintext: DATA_KEY, KeyId: KEY_ARN });
});

describe('KmsKeyProvider', () => {
  it('asks KMS for an AES-256 data key under the configured key with the service encryption context', async () => {
    const provider = new KmsKeyProvider(new KMSClient({ region: 'eu-west-1' }), KEY_ARN);
    const key = await provider.generateDataKey();
    const [call] = kms.commandCalls(GenerateDataKeyCommand);
    expect(call?.args[0].input).toEqual({
      KeyId: KEY_ARN,
      KeySpec: 'AES_256',
      EncryptionContext: { service: 'token-broker', purpose: 'token-data-key' },
    });
    expect(key.plaintext.equals(DATA_KEY)).toBe(true);
    expect(Buffer.from(key.wrapped, 'base64url').equals(BLOB)).toBe(true);
  });

  it('unwraps through Decrypt with the same encryption context, once per data key while cached', async () => {
    const writer = new EnvelopeCipher(new KmsKeyProvider(new KMSClient({ region: 'eu-west-1' }), KEY_ARN));
    const sealed = await writer.seal('refresh-token', { provider: 'lightspeed-x', account: 'shop' });
    const reader = new EnvelopeCipher(new KmsKeyProvider(new KMSClient({ region: 'eu-west-1' }), KEY_ARN));
    for (let i = 0; i < 5; i++) {
      expect(await reader.open(sealed, { provider: 'lightspeed-x', account: 'shop' })).toBe('refresh-token');
    }
    const decrypts = kms.commandCalls(DecryptCommand);
    expect(decrypts).toHaveLength(1);
    expect(decrypts[0]?.args[0].input.EncryptionContext).toEqual({
      service: 'token-broker',
      purpose: 'token-data-key',
    });
    expect(kms.commandCalls(GenerateDataKeyCommand)).toHaveLength(1);
  });
});
