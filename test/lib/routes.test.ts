/**
 * The routes API Gateway deploys are exactly the routes the handlers serve: the same method and path,
 * sent to the function whose handler serves it, authorized as the handler's route says (operator: IAM at
 * API Gateway; task and public: none, the function checks the task token). Both sides come from the
 * route table (lambdas/http/route-table.ts); this test is what keeps them from drifting apart.
 */
import { describe, expect, it } from 'vitest';
import { operatorRoutes } from '../../lambdas/api/routes';
import { callbackRoutes } from '../../lambdas/callbacks/routes';
import type { Route } from '../../lambdas/http/route';
import { logicalIdByPath, synthSundial } from './support';

type Fn = 'api' | 'callbacks';

const FUNCTION_PATHS: Record<Fn, string> = { api: '/Api/ApiHandler/Function/Resource', callbacks: '/Api/CallbacksHandler/Function/Resource' };

/** Routes that are API Gateway's own, with no handler route: asserted one by one below. */
const GATEWAY_ONLY = ['$default', 'OPTIONS /{proxy+}'];

/** `GET /api/processes api AWS_IAM`: a route key, the function it reaches, its authorization at API Gateway. */
const line = (key: string, fn: Fn, authorization: string) => `${key} ${fn} ${authorization}`;

// The route lists only define closures over the services; nothing is called while building them.
const handlerRoutes: Array<[Fn, Route[]]> = [
  ['api', operatorRoutes({} as Parameters<typeof operatorRoutes>[0])],
  ['callbacks', callbackRoutes({} as Parameters<typeof callbackRoutes>[0])],
];

describe('deployed routes', () => {
  // Prepare (shared): the template only is read, never changed.
  const { template } = synthSundial();
  const integrations = template.findResources('AWS::ApiGatewayV2::Integration');
  const functionOf: Record<string, Fn> = Object.fromEntries(
    (Object.keys(FUNCTION_PATHS) as Fn[]).map((fn) => [logicalIdByPath(template, 'AWS::Lambda::Function', FUNCTION_PATHS[fn]), fn]),
  );
  const deployed = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map((route) => {
    const integration = integrations[route.Properties.Target['Fn::Join'][1][1].Ref];
    const fn = functionOf[integration?.Properties.IntegrationUri['Fn::GetAtt'][0]];
    return { key: route.Properties.RouteKey as string, fn, authorization: route.Properties.AuthorizationType as string };
  });
  const deployedLine = (key: string) => deployed.filter((r) => r.key === key).map((r) => line(r.key, r.fn!, r.authorization));

  it('are the routes the handlers serve, each sent to the function that serves it, authorized as it says', () => {
    // Act
    const fromTemplate = deployed.filter((r) => !GATEWAY_ONLY.includes(r.key)).map((r) => line(r.key, r.fn!, r.authorization));
    const fromHandlers = handlerRoutes.flatMap(([fn, routes]) =>
      routes.map((r) => line(`${r.method} ${r.path}`, fn, r.auth === 'operator' ? 'AWS_IAM' : 'NONE')),
    );

    // Assess
    expect(new Set(fromHandlers).size, 'a route served twice').toBe(fromHandlers.length);
    expect(fromTemplate.sort()).toEqual(fromHandlers.sort());
  });

  it('reaches each function through a Lambda proxy integration, payload format 2.0 (what the handlers parse)', () => {
    // Assess
    for (const integration of Object.values(integrations)) {
      expect(integration.Properties).toMatchObject({ IntegrationType: 'AWS_PROXY', PayloadFormatVersion: '2.0' });
    }
    expect(new Set(deployed.map((r) => r.fn))).toEqual(new Set(['api', 'callbacks']));
  });

  it('sends anything undeclared ($default, trailing-slash forms) to the api function, IAM-authorized', () => {
    // Assess
    expect(deployedLine('$default')).toEqual([line('$default', 'api', 'AWS_IAM')]);
  });

  it('adds the CORS preflight OPTIONS /{proxy+} for the console, unauthorized (API Gateway answers it)', () => {
    // Assess
    expect(deployedLine('OPTIONS /{proxy+}')).toEqual([line('OPTIONS /{proxy+}', 'api', 'NONE')]);
  });
});
