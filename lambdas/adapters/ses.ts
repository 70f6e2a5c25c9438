/**
 * Email through Amazon SES (`SendEmail`, v1 API): one call per message, text and HTML bodies, from the
 * sender configured at deploy time. The notify function may send only from that identity (lib/notifications.ts).
 */
import { SESClient, SendEmailCommand } from '@aws-sdk/client-ses';
import { DeliveryError, type EmailMessage, type EmailSender } from '../notify/ports';

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
  /** `client` defaults to one built at cold start from the Lambda's environment (region, credentials). */
  constructor(private readonly client: SESClient = new SESClient({})) {}

  async send(message: EmailMessage): Promise<void> {
    try {
      await this.client.send(
        new SendEmailCommand({
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
