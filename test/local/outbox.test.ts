/** The local outbox: RFC 5322 files any mail client reads, quoted-printable bodies, one file per message. */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, test } from 'vitest';
import type { EmailMessage } from '../../lambdas/notify/ports';
import { formatEml, OutboxEmailSender, quotedPrintable } from '../../local/outbox';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const message: EmailMessage = {
  from: 'Sundial <sundial@localhost>',
  to: ['ops@example.com', 'dev@example.com'],
  subject: '[Sundial] nightly failed - run 42',
  text: 'line one\nline two',
  html: '<p>héllo</p>',
  id: '20260301120000000-42',
  date: '2026-03-01T12:00:00.000Z',
};

describe('quotedPrintable', () => {
  test.each([
    ['plain ASCII stays', 'hello world', 'hello world'],
    ['= is encoded', 'a=b', 'a=3Db'],
    ['UTF-8 bytes are encoded', 'é', '=C3=A9'],
    ['a trailing space is encoded', 'end ', 'end=20'],
    ['line ends become CRLF', 'a\nb', 'a\r\nb'],
  ])('%s', (_case, input, output) => {
    // Act / Assess
    expect(quotedPrintable(input)).toBe(output);
  });

  it('keeps lines at 76 characters with soft breaks', () => {
    // Act
    const encoded = quotedPrintable('x'.repeat(200));

    // Assess
    const lines = encoded.split('\r\n');
    expect(lines.every((l) => l.length <= 76)).toBe(true);
    expect(lines.map((l) => l.replace(/=$/, '')).join('')).toBe('x'.repeat(200));
  });
});

describe('formatEml', () => {
  it('writes headers and a multipart/alternative body with text and HTML parts', () => {
    // Act
    const eml = formatEml(message);

    // Assess
    const [head, ...rest] = eml.split('\r\n\r\n');
    expect(head?.split('\r\n')).toEqual([
      'From: Sundial <sundial@localhost>',
      'To: ops@example.com, dev@example.com',
      'Subject: [Sundial] nightly failed - run 42',
      'Date: Sun, 01 Mar 2026 12:00:00 +0000',
      'Message-ID: <20260301120000000-42@sundial.localhost>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/alternative; boundary="sundial-20260301120000000-42"',
    ]);
    const body = rest.join('\r\n\r\n');
    expect(body).toContain('Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nline one\r\nline two\r\n');
    expect(body).toContain('Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>h=C3=A9llo</p>\r\n');
    expect(eml.endsWith('--sundial-20260301120000000-42--\r\n')).toBe(true);
  });

  it('encodes a non-ASCII subject as an RFC 2047 word', () => {
    // Act
    const eml = formatEml({ ...message, subject: 'échec' });

    // Assess
    expect(eml).toContain(`Subject: =?UTF-8?B?${Buffer.from('échec').toString('base64')}?=\r\n`);
  });
});

describe('OutboxEmailSender', () => {
  it('writes one file per message, named by its id, and logs it; a replay overwrites the same file', async () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'sundial-outbox-'));
    dirs.push(dir);
    const lines: string[] = [];
    const sender = new OutboxEmailSender(join(dir, 'outbox'), (l) => lines.push(l));

    // Act
    await sender.send(message);
    await sender.send(message);
    await sender.send({ ...message, id: 'other' });

    // Assess
    expect(readdirSync(join(dir, 'outbox')).sort()).toEqual(['20260301120000000-42.eml', 'other.eml']);
    expect(readFileSync(join(dir, 'outbox', '20260301120000000-42.eml'), 'utf8')).toBe(formatEml(message));
    expect(lines[0]).toBe(`info email to ops@example.com, dev@example.com: [Sundial] nightly failed - run 42 (${join(dir, 'outbox', '20260301120000000-42.eml')})`);
  });

  it('only logs without a data dir', async () => {
    // Prepare
    const lines: string[] = [];

    // Act
    await new OutboxEmailSender(undefined, (l) => lines.push(l)).send(message);

    // Assess
    expect(lines).toEqual(['info email (no data dir, not kept) to ops@example.com, dev@example.com: [Sundial] nightly failed - run 42']);
  });
});
