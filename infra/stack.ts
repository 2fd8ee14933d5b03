/** The deployable stack: one TokenBroker plus the outputs an operator needs after `cdk deploy`. */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import { HostedZone } from 'aws-cdk-lib/aws-route53';
import type { Construct } from 'constructs';
import { pascal } from './broker/naming';
import { TokenBroker, type TokenBrokerProps } from './token-broker';

export interface CustomDomainReference {
  readonly domainName: string;
  /** ACM certificate for `domainName`, in the stack's region. */
  readonly certificateArn: string;
  /** Route 53 hosted zone to create the alias record in (both id and name, or neither). */
  readonly hostedZoneId?: string;
  readonly hostedZoneName?: string;
}

export interface TokenBrokerStackProps extends StackProps, Omit<TokenBrokerProps, 'customDomain'> {
  readonly customDomain?: CustomDomainReference;
}

export class TokenBrokerStack extends Stack {
  readonly broker: TokenBroker;

  constructor(scope: Construct, id: string, props: TokenBrokerStackProps = {}) {
    super(scope, id, props);
    const { customDomain, ...brokerProps } = props;
    this.broker = new TokenBroker(this, 'Broker', {
      ...brokerProps,
      ...(customDomain ? { customDomain: this.customDomain(customDomain) } : {}),
    });

    // What an operator needs after `cdk deploy`: [output id, value, description], in template order.
    const broker = this.broker;
    const outputs: [string, string, string][] = [
      [
        'ApiUrl',
        broker.publicUrl,
        'The broker base URL (BROKER_PUBLIC_URL): backends call it, connect links point to it',
      ],
      [
        'ExecuteApiEndpoint',
        broker.api.apiEndpoint,
        'The execute-api endpoint (equals ApiUrl unless a custom domain is set)',
      ],
      ...Object.entries(broker.redirectUris).map(([provider, uri]): [string, string, string] => [
        `${pascal(provider)}RedirectUri`,
        uri,
        `Register exactly this redirect URI for ${provider} in the provider's developer portal`,
      ]),
      ...Object.entries(broker.installUrls).map(([provider, uri]): [string, string, string] => [
        `${pascal(provider)}InstallUrl`,
        uri,
        `Register exactly this as the ${provider} app URL: installs started on the provider's side land here`,
      ]),
      ...Object.entries(broker.clientSecrets).map(([provider, secret]): [string, string, string] => [
        `${pascal(provider)}ClientSecretArn`,
        secret.secretArn,
        `Put the ${provider} OAuth client secret here (aws secretsmanager put-secret-value)`,
      ]),
      ['TableName', broker.table.tableName, 'The DynamoDB table (retained on delete)'],
      [
        'TableKeyArn',
        broker.tableKey.keyArn,
        'KMS key of the table, the sealed tokens and the personal-token secrets (retained on delete)',
      ],
      [
        'SecretPrefix',
        broker.secretPrefix,
        'Secrets Manager name prefix; personal tokens are <prefix>personal/<provider>/<account>',
      ],
      [
        'BackendInvokePolicyArn',
        broker.backendInvokePolicy.managedPolicyArn,
        'Managed policy to attach to the IAM role of every backend that calls the backend routes',
      ],
      [
        'TokensFunctionName',
        broker.functions.tokens.functionName,
        'The tokens function: backends inside AWS may invoke it directly (lambda:InvokeFunction, grantInvokeTokens)',
      ],
      ['AlarmTopicArn', broker.alarmTopic.topicArn, 'SNS topic of the alarms'],
      [
        'EventBusName',
        broker.eventBus.eventBusName,
        'EventBridge bus of the broker events (source token-broker): add rules to react to them',
      ],
      ['DeadLetterQueueUrl', broker.deadLetterQueue.queueUrl, 'Failed sweep runs land here'],
    ];
    for (const [outputId, value, description] of outputs)
      new CfnOutput(this, outputId, { description, value });
  }

  private customDomain(reference: CustomDomainReference): NonNullable<TokenBrokerProps['customDomain']> {
    const certificate = Certificate.fromCertificateArn(this, 'DomainCertificate', reference.certificateArn);
    if ((reference.hostedZoneId === undefined) !== (reference.hostedZoneName === undefined)) {
      throw new Error('customDomain: give both hostedZoneId and hostedZoneName, or neither');
    }
    const hostedZone =
      reference.hostedZoneId !== undefined && reference.hostedZoneName !== undefined
        ? HostedZone.fromHostedZoneAttributes(this, 'DomainZone', {
            hostedZoneId: reference.hostedZoneId,
            zoneName: reference.hostedZoneName,
          })
        : undefined;
    return { domainName: reference.domainName, certificate, ...(hostedZone ? { hostedZone } : {}) };
  }
}
