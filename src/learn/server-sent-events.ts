/**
 * The lesson checker's reader of `text/event-stream`, by the WHATWG HTML standard's rules
 * ("Server-sent events", §9.2.6 Interpreting an event stream): the bytes decoded as UTF-8 with a
 * leading BOM dropped; lines ended by CR LF, LF or CR alone; a line starting with ":" a comment;
 * "field: value" with one space after the colon removed; data lines joined by LF; an empty line
 * dispatching the event, unless no data came; "id" kept for the events after it too (a value
 * with NULL ignored); "retry" only when all ASCII digits. What a browser's EventSource sees, so
 * a stream this reader accepts is one a browser accepts.
 */

export interface ServerSentEvent {
  /** The event type: "message" unless an `event:` field named another. */
  type: string;
  data: string;
  /** The last event ID when this event was dispatched (`id:` persists until changed). */
  lastEventId: string;
}

export class EventStreamParser {
  /** The reconnection time the stream asked for with `retry:`, in ms. */
  retry?: number;
  /** Comments seen (lines starting with ":"), without the colon. */
  readonly comments: string[] = [];
  #decoder = new TextDecoder('utf-8');
  #pending = '';
  /** The last chunk ended in CR: an LF starting the next one belongs to the same line end. */
  #afterCR = false;
  #data = '';
  #type = '';
  #lastEventIdBuffer = '';
  #lastEventId = '';

  /** Feeds bytes as they arrive; returns the events they complete, in order. */
  push(chunk: Uint8Array | string): ServerSentEvent[] {
    const decoded = typeof chunk === 'string' ? chunk : this.#decoder.decode(chunk, { stream: true });
    if (!decoded.length) return [];
    // A CR ending the last chunk has already ended its line; an LF starting this one is the
    // rest of that CR LF, not an empty line of its own.
    const text = this.#afterCR && decoded.startsWith('\n') ? decoded.slice(1) : decoded;
    this.#afterCR = decoded.endsWith('\r');
    const lines = (this.#pending + text).split(/\r\n|\n|\r/);
    this.#pending = lines.pop() ?? '';
    const events: ServerSentEvent[] = [];
    for (const line of lines) {
      const event = this.#line(line);
      if (event) events.push(event);
    }
    return events;
  }

  #line(line: string): ServerSentEvent | undefined {
    if (line === '') return this.#dispatch();
    if (line.startsWith(':')) {
      this.comments.push(line.slice(1));
      return undefined;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.#type = value;
    else if (field === 'data') this.#data += `${value}\n`;
    else if (field === 'id' && !value.includes('\0')) this.#lastEventIdBuffer = value;
    else if (field === 'retry' && /^[0-9]+$/.test(value)) this.retry = Number(value);
    // Any other field is ignored.
    return undefined;
  }

  #dispatch(): ServerSentEvent | undefined {
    this.#lastEventId = this.#lastEventIdBuffer;
    if (this.#data === '') {
      this.#type = '';
      return undefined;
    }
    const event = { type: this.#type || 'message', data: this.#data.slice(0, -1), lastEventId: this.#lastEventId };
    this.#data = '';
    this.#type = '';
    return event;
  }
}
