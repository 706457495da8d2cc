/**
 * A Server-Sent Events parser (WHATWG HTML §9.2.6, "Interpreting an event
 * stream"), for the service's events stream. Bounded: a line longer than
 * `maxLineBytes` is an error, so a broken or hostile peer cannot make the
 * connector buffer without end.
 */

export interface SseEvent {
  /** `event:` field; "message" when absent. */
  readonly event: string;
  readonly data: string;
  readonly id: string | undefined;
}

export type SseItem = { readonly kind: 'event'; readonly event: SseEvent } | { readonly kind: 'comment'; readonly text: string };

export class SseLineTooLongError extends Error {
  constructor(limit: number) {
    super(`an event stream line is longer than ${limit} bytes`);
    this.name = 'SseLineTooLongError';
  }
}

export class SseParser {
  readonly #maxLineBytes: number;
  #buffer = '';
  #event = '';
  #data: string[] = [];
  #id: string | undefined;
  #sawCarriageReturn = false;

  constructor(maxLineBytes: number) {
    this.#maxLineBytes = maxLineBytes;
  }

  /** Feeds decoded text; returns the events and comments it completed. */
  push(text: string): SseItem[] {
    const items: SseItem[] = [];
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const char = text.charCodeAt(i);
      if (char === 0x0a && this.#sawCarriageReturn && i === start && this.#buffer === '') {
        // The LF of a CRLF whose CR ended the previous line.
        this.#sawCarriageReturn = false;
        start = i + 1;
        continue;
      }
      this.#sawCarriageReturn = false;
      if (char === 0x0a || char === 0x0d) {
        const line = this.#buffer + text.slice(start, i);
        this.#buffer = '';
        this.#line(line, items);
        this.#sawCarriageReturn = char === 0x0d;
        start = i + 1;
      }
    }
    this.#buffer += text.slice(start);
    if (Buffer.byteLength(this.#buffer) > this.#maxLineBytes) throw new SseLineTooLongError(this.#maxLineBytes);
    return items;
  }

  #line(line: string, items: SseItem[]): void {
    if (Buffer.byteLength(line) > this.#maxLineBytes) throw new SseLineTooLongError(this.#maxLineBytes);
    if (line === '') {
      this.#dispatch(items);
      return;
    }
    if (line.startsWith(':')) {
      items.push({ kind: 'comment', text: line.slice(1).trimStart() });
      return;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.#event = value;
        break;
      case 'data':
        this.#data.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) this.#id = value;
        break;
      default:
        // `retry` and unknown fields are ignored: reconnect timing is ours (src/backoff.ts).
        break;
    }
  }

  #dispatch(items: SseItem[]): void {
    const event = this.#event;
    const data = this.#data;
    this.#event = '';
    this.#data = [];
    // An event without a data line is still meaningful here (`event: revoked`).
    if (event === '' && data.length === 0) return;
    items.push({ kind: 'event', event: { event: event === '' ? 'message' : event, data: data.join('\n'), id: this.#id } });
  }
}
