/**
 * Master keys in AWS KMS: GenerateDataKey under the configured key, Decrypt for unwrapping (the
 * ciphertext blob names its key, so rows written under an older key, or before automatic rotation,
 * still open). The encryption context ties every data key to this service.
 */

import { DecryptCommand, GenerateDataKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { TOKEN_DATA_KEY_CONTEXT as CONTEXT } from '../../constants';
import type { KeyProvider } from '../../domain/ports';

/** A KeyProvider over KMS (client injected). */
export class KmsKeyProvider implements KeyProvider {
  constructor(
    private readonly client: KMSClient,
    private readonly keyId: string,
  ) {}

  async generateDataKey() {
    const result = await this.client.send(
      new GenerateDataKeyCommand({ KeyId: this.keyId, KeySpec: 'AES_256', EncryptionContext: CONTEXT }),
    );
    if (result.Plaintext === undefined || result.CiphertextBlob === undefined) {
      throw new Error('KMS returned no data key');
    }
    return {
      plaintext: Buffer.from(result.Plaintext),
      wrapped: Buffer.from(result.CiphertextBlob).toString('base64url'),
      keyId: result.KeyId ?? this.keyId,
    };
  }

  async unwrap(wrapped: string) {
    const result = await this.client.send(
      new DecryptCommand({ CiphertextBlob: Buffer.from(wrapped, 'base64url'), EncryptionContext: CONTEXT }),
    );
    if (result.Plaintext === undefined) throw new Error('KMS returned no plaintext');
    return Buffer.from(result.Plaintext);
  }
}
