/**
 * Local mode's email: each message becomes one file `<outbox>/<ended>-<process id>.eml` (RFC 5322,
 * MIME multipart/alternative with the text and HTML bodies, quoted-printable), which any mail client
 * opens, and one log line. Nothing leaves the machine.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EmailMessage, EmailSender } from '../lambdas/notify/ports';

/** The From address of local emails when none is given. */
export const LOCAL_SENDER = 'Sundial <sundial@localhost>';

/** Quoted-printable (RFC 2045 §6.7) of UTF-8 text, CRLF line ends, lines of at most 76 characters. */
export function quotedPrintable(text: string): string {
  return text
    .split(/\r?\n/)
    .map((line) => {
      const bytes = Buffer.from(line, 'utf8');
      let out = '';
      let width = 0;
      bytes.forEach((b, i) => {
        const last = i === bytes.length - 1;
        const plain = (b >= 33 && b <= 126 && b !== 61) || ((b === 32 || b === 9) && !last);
        const token = plain ? String.fromCharCode(b) : `=${b.toString(16).toUpperCase().padStart(2, '0')}`;
        if (width + token.length > 75) {
          out += '=\r\n';
          width = 0;
        }
        out += token;
        width += token.length;
      });
      return out;
    })
    .join('\r\n');
}

/** A header value: as is when ASCII, else an RFC 2047 encoded word. */
function headerValue(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : `=?UTF-8?B?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

/** The message as an RFC 5322 document (CRLF line ends). */
export function formatEml(message: EmailMessage): string {
  const boundary = `sundial-${message.id}`;
  const date = new Date(message.date).toUTCString().replace(/GMT$/, '+0000');
  return [
    `From: ${headerValue(message.from)}`,
    `To: ${message.to.join(', ')}`,
    `Subject: ${headerValue(message.subject)}`,
    `Date: ${date}`,
    `Message-ID: <${message.id}@sundial.localhost>`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/alternative; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    quotedPrintable(message.text),
    `--${boundary}`,
    'Content-Type: text/html; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    quotedPrintable(message.html),
    `--${boundary}--`,
    '',
  ].join('\r\n');
}

/** Writes emails to `dir` (when given) and logs each; without `dir` (in-memory mode) it logs only. */
export class OutboxEmailSender implements EmailSender {
  constructor(
    private readonly dir: string | undefined,
    private readonly log: (line: string) => void,
  ) {}

  async send(message: EmailMessage): Promise<void> {
    if (this.dir === undefined) {
      this.log(`info email (no data dir, not kept) to ${message.to.join(', ')}: ${message.subject}`);
      return;
    }
    mkdirSync(this.dir, { recursive: true });
    const file = join(this.dir, `${message.id}.eml`);
    // Written whole then renamed, so a reader never sees half a message; a replay overwrites the same file.
    writeFileSync(`${file}.tmp`, formatEml(message), { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
    this.log(`info email to ${message.to.join(', ')}: ${message.subject} (${file})`);
  }
}
