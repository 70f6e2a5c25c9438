/**
 * Email through Amazon SES (`SendEmail`, v1 API): one call per message, text and HTML bodies, from the
 * sender configured at deploy time. The notify function may send only from that identity (lib/notifications.ts).
 */
import type { SESClient } from '@aws-sdk/client-ses';
import { DeliveryError, type EmailMessage, type EmailSender } from '../notify/ports';
import { lazyClient, type Loaded } from './lazy-client';

/** SES errors that retrying cannot fix: the message, the sender or the account is refused. */
const PERMANENT = new Set([
  'MessageRejected',
  'MailFromDomainNotVerifiedException',
  'ConfigurationSetDoesNotExistException',
  'ConfigurationSetSendingPausedException',
  'AccountSendingPausedException',
  'AccessDeniedException',
  'AccessDenied',
  'InvalidParameterValue',
  'ValidationError',
]);

/** True when trying again may deliver: throttling, 5xx, network errors (no HTTP answer at all). */
export function isRetryableSesError(err: unknown): boolean {
  const e = err as { name?: string; $retryable?: unknown; $metadata?: { httpStatusCode?: number } };
  if (e.name !== undefined && PERMANENT.has(e.name)) return false;
  if (e.$retryable) return true;
  const status = e.$metadata?.httpStatusCode;
  if (status === undefined) return true;
  return status >= 500 || status === 429 || /Throttl/i.test(e.name ?? '');
}

export class SesEmailSender implements EmailSender {
  private readonly load: () => Promise<Loaded<typeof import('@aws-sdk/client-ses'), SESClient>>;

  /**
   * `client` defaults to one built from the Lambda's environment (region, credentials) at the first
   * message (./lazy-client): email goes out only for definitions that ask for it.
   */
  constructor(client?: SESClient) {
    this.load = lazyClient(() => import('@aws-sdk/client-ses'), (sdk) => new sdk.SESClient({}), client);
  }

  async send(message: EmailMessage): Promise<void> {
    const { sdk, client } = await this.load();
    try {
      await client.send(
        new sdk.SendEmailCommand({
          Source: message.from,
          Destination: { ToAddresses: message.to },
          Message: {
            Subject: { Data: message.subject, Charset: 'UTF-8' },
            Body: { Text: { Data: message.text, Charset: 'UTF-8' }, Html: { Data: message.html, Charset: 'UTF-8' } },
          },
        }),
      );
    } catch (err) {
      const e = err as Error;
      throw new DeliveryError(`SES ${e.name ?? 'error'}: ${e.message}`, isRetryableSesError(err));
    }
  }
}
