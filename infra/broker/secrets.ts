/**
 * The broker's secrets in Secrets Manager: the OAuth client secret of each configured provider (created
 * with a placeholder, or imported by ARN) and the name space of the personal-token secrets.
 */
import { ArnFormat, Stack, Validations } from 'aws-cdk-lib';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import type { OAuthClientOptions } from '../token-broker';
import { pascal } from './naming';

/** What the construct knows about an OAuth provider (`OAUTH_PROVIDERS` in infra/token-broker.ts). */
export interface OAuthProviderSettings {
  readonly label: string;
  readonly clientIdEnv: string;
  readonly clientSecretArnEnv: string;
  readonly scopesEnv: string;
}

/** A provider the props configure an OAuth app for. */
export interface ConfiguredProvider {
  readonly id: string;
  readonly settings: OAuthProviderSettings;
  readonly options: OAuthClientOptions;
}

/** One client secret per configured provider, in `scope` (ids `<Provider>ClientSecret`). */
export function createClientSecrets(
  scope: Construct,
  providers: readonly ConfiguredProvider[],
): Record<string, ISecret> {
  const stack = Stack.of(scope);
  const secrets: Record<string, ISecret> = {};
  for (const { id, settings, options } of providers) {
    if (options.clientSecretArn !== undefined) {
      secrets[id] = Secret.fromSecretCompleteArn(scope, `${pascal(id)}ClientSecret`, options.clientSecretArn);
      continue;
    }
    const secret = new Secret(scope, `${pascal(id)}ClientSecret`, {
      description:
        `${settings.label} OAuth client secret of token broker ${stack.stackName}. Created with a random ` +
        'placeholder: set the real value with `aws secretsmanager put-secret-value --secret-id <this ARN> ' +
        '--secret-string <client secret>` (README, "Deploy to AWS", step 4).',
    });
    Validations.of(secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The OAuth client secret is issued by the provider developer portal and cannot be rotated by a ' +
        'Lambda; operators rotate it there and put the new value (README, "Deploy to AWS", step 5).',
    });
    secrets[id] = secret;
  }
  return secrets;
}

/** The ARN pattern of every personal-token secret: `${secretPrefix}personal/*`. */
export function personalTokenArn(scope: Construct, secretPrefix: string): string {
  return Stack.of(scope).formatArn({
    service: 'secretsmanager',
    resource: 'secret',
    resourceName: `${secretPrefix}personal/*`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}
