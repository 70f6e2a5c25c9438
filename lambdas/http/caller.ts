/**
 * Who calls an operator route: deployed, the HTTP API's IAM authorizer puts the signing principal in
 * `requestContext.authorizer.iam.userArn` (payload 2.0; an assumed role's is its `assumed-role/…/session`
 * ARN); the local HTTP adapter has no authorizer (operator routes are open on loopback): `local`.
 */
import { LOCAL_CALLER } from '../domain/provenance';
import type { HttpEvent } from './types';

export function callerOf(event: HttpEvent): string {
  const context = event.requestContext as { authorizer?: { iam?: { userArn?: string | null } } };
  return context.authorizer?.iam?.userArn || LOCAL_CALLER;
}
