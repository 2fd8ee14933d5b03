/**
 * The HTTP API, built from the route table of `functions/routes.ts`. Two steps, because the functions
 * and the API need each other: the API (and so the public URL the functions get as BROKER_PUBLIC_URL)
 * exists first; `serve()` adds the stage and the routes to the functions once they exist.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  DomainName,
  HttpApi,
  HttpMethod,
  HttpNoneAuthorizer,
  HttpStage,
  LogGroupLogDestination,
  type ThrottleSettings,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { ManagedPolicy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { ARecord, RecordTarget } from 'aws-cdk-lib/aws-route53';
import { ApiGatewayv2DomainProperties } from 'aws-cdk-lib/aws-route53-targets';
import type { Construct } from 'constructs';
import { type FunctionGroup, methodsOf, routes } from '../../functions/routes';
import type { CustomDomainOptions } from '../token-broker';
import { nagReference, pascal } from './naming';

export interface BrokerApiOptions {
  readonly customDomain?: CustomDomainOptions | undefined;
  readonly logRetention: RetentionDays;
}

export interface ServeOptions {
  readonly functions: Readonly<Record<FunctionGroup, IFunction>>;
  readonly throttle: ThrottleSettings;
}

/** The API's constructs, created in the broker's own scope (their logical ids predate this module). */
export class BrokerApi {
  readonly api: HttpApi;
  /** The broker's external base URL without a trailing slash (custom domain or execute-api). */
  readonly publicUrl: string;
  /** `execute-api` ARNs of every backend (SigV4) route on the stage. */
  readonly backendRouteArns: string[] = [];
  private readonly accessLogs: LogGroup;
  private readonly domain: DomainName | undefined;

  constructor(
    private readonly scope: Construct,
    options: BrokerApiOptions,
  ) {
    const stack = Stack.of(scope);
    this.accessLogs = new LogGroup(scope, 'ApiAccessLogs', { retention: options.logRetention });
    this.api = new HttpApi(scope, 'Api', {
      description: `Token broker ${stack.stackName}`,
      createDefaultStage: false,
      // Secure by default: a route that is not explicitly public requires SigV4.
      defaultAuthorizer: new HttpIamAuthorizer(),
    });
    const custom = options.customDomain;
    if (custom) {
      this.domain = new DomainName(scope, 'Domain', {
        domainName: custom.domainName,
        certificate: custom.certificate,
      });
      if (custom.hostedZone) {
        new ARecord(scope, 'DomainRecord', {
          zone: custom.hostedZone,
          recordName: custom.domainName,
          target: RecordTarget.fromAlias(
            new ApiGatewayv2DomainProperties(
              this.domain.regionalDomainName,
              this.domain.regionalHostedZoneId,
            ),
          ),
        });
      }
    }
    this.publicUrl = custom ? `https://${custom.domainName}` : this.api.apiEndpoint;
  }

  /** The stage, a route per method of the route table, and the policy for calling backends. */
  serve(options: ServeOptions): { stage: HttpStage; backendInvokePolicy: ManagedPolicy } {
    const stack = Stack.of(this.scope);
    const stage = new HttpStage(this.scope, 'Stage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: options.throttle,
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogs),
        format: accessLogFormat(),
      },
      ...(this.domain ? { domainMapping: { domainName: this.domain } } : {}),
    });

    // One integration per function, created when the first route of its group needs it.
    const integrations = new Map<FunctionGroup, HttpLambdaIntegration>();
    const integrationOf = (group: FunctionGroup): HttpLambdaIntegration => {
      const known = integrations.get(group);
      if (known) return known;
      const created = new HttpLambdaIntegration(`${pascal(group)}Integration`, options.functions[group]);
      integrations.set(group, created);
      return created;
    };
    const publicAuthorizer = new HttpNoneAuthorizer();
    for (const route of routes) {
      // Every GET route also answers HEAD (the handlers serve it like GET without a body).
      for (const method of methodsOf(route)) {
        const [created] = this.api.addRoutes({
          path: route.path,
          methods: [HttpMethod[method]],
          integration: integrationOf(route.group),
          ...(route.access === 'public' ? { authorizer: publicAuthorizer } : {}),
        });
        if (route.access === 'public') {
          Validations.of(created!).acknowledge({
            id: 'AwsSolutions-APIG4',
            reason: `${method} ${route.path} is a public route of the contract, opened by retailers' browsers (OAuth connect flow or health check); it returns no token.`,
          });
        } else {
          this.backendRouteArns.push(
            this.api.arnForExecuteApi(method, route.path.replace(/\{[^}]+\}/g, '*'), stage.stageName),
          );
        }
      }
    }

    const backendInvokePolicy = new ManagedPolicy(this.scope, 'BackendInvokePolicy', {
      description: `Lets a SaaS backend call the backend routes of token broker ${stack.stackName} (SigV4)`,
      statements: [
        new PolicyStatement({ actions: ['execute-api:Invoke'], resources: this.backendRouteArns }),
      ],
    });
    for (const arn of this.backendRouteArns) {
      const resource = nagReference(stack, arn);
      if (!resource.includes('*')) continue;
      Validations.of(backendInvokePolicy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${resource}]`,
        reason:
          'In execute-api ARNs each path parameter ({provider}, {account}) is written as *: this statement ' +
          'allows exactly one backend route of the contract, and the policy names no public route.',
      });
    }
    return { stage, backendInvokePolicy };
  }
}

/** A JSON access log line per request. The route key, not the path: paths carry one-time session ids. */
function accessLogFormat(): AccessLogFormat {
  return AccessLogFormat.custom(
    JSON.stringify({
      requestId: '$context.requestId',
      requestTime: '$context.requestTime',
      sourceIp: '$context.identity.sourceIp',
      userAgent: '$context.identity.userAgent',
      caller: '$context.identity.userArn',
      routeKey: '$context.routeKey',
      status: '$context.status',
      protocol: '$context.protocol',
      responseLength: '$context.responseLength',
      responseLatency: '$context.responseLatency',
      integrationLatency: '$context.integrationLatency',
      integrationError: '$context.integrationErrorMessage',
      authorizerError: '$context.authorizer.error',
    }),
  );
}
