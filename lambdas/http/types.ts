/** The HTTP shapes every runtime speaks: API Gateway HTTP API (payload 2.0) events and results. */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';

export type HttpEvent = APIGatewayProxyEventV2;
export type HttpResult = APIGatewayProxyStructuredResultV2 & { statusCode: number; headers: Record<string, string> };
export type HttpHandler = (event: HttpEvent, context: Context) => Promise<HttpResult>;

/** JSON response with the given status. */
export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: JSON.stringify(body),
  };
}

/** Plain-text response (metrics). */
export function text(statusCode: number, body: string, contentType = 'text/plain; charset=utf-8'): HttpResult {
  return { statusCode, headers: { 'content-type': contentType }, body };
}

/** Empty response (204). */
export function empty(statusCode = 204): HttpResult {
  return { statusCode, headers: {}, body: '' };
}
