/**
 * Reading a plain socket into one reusable buffer (Node's `onread: { buffer, callback }`), instead of
 * a fresh 64 KiB allocation per read that waits for the garbage collector.
 *
 * The buffer is overwritten by the next read: a consumer that takes the reads in place
 * (backend-channel.ts) must copy whatever it keeps past its callback (frame-reader.ts does, for
 * every message body).  Until such a consumer is attached, and for anything else that listens to the
 * socket (the SSLRequest answer, a TLS layer's handshake), each read is emitted as an ordinary
 * 'data' event carrying a copy.  Returning false from the consumer pauses the socket, as
 * `socket.pause()` does; `socket.resume()` starts reading again.
 */
import type { Socket } from 'node:net';

/** Size of the reusable buffer: one read takes at most this much. */
export const READ_BUFFER_BYTES = 128 * 1024;

/** Takes one read in place; false pauses the socket. */
export type InPlaceConsumer = (chunk: Buffer) => boolean;

const bySocket = new WeakMap<Socket, InPlaceReads>();

export class InPlaceReads {
  private socket: Socket | undefined;
  private consumer: InPlaceConsumer | undefined;
  /** Pass as the `onread` option of net.connect(), then bind() the socket it returns. */
  readonly onread: { buffer: Buffer; callback: (nread: number, buf: Buffer) => boolean };

  constructor(bytes = READ_BUFFER_BYTES) {
    this.onread = { buffer: Buffer.allocUnsafeSlow(bytes), callback: (nread, buf) => this.deliver(buf.subarray(0, nread)) };
  }

  bind(socket: Socket): void {
    this.socket = socket;
    bySocket.set(socket, this);
  }

  private deliver(chunk: Buffer): boolean {
    const consumer = this.consumer;
    if (consumer !== undefined) return consumer(chunk);
    // Nobody reads in place: an ordinary 'data' event, with a copy that its listeners may keep.
    this.socket?.emit('data', Buffer.from(chunk));
    return true;
  }

  /**
   * Hand every later read of `socket` to `consumer`, in place.  Returns false (and changes nothing)
   * when the socket was not opened with in-place reads: its reader then listens to 'data' as usual.
   */
  static take(socket: Socket, consumer: InPlaceConsumer): boolean {
    const reads = bySocket.get(socket);
    if (reads === undefined) return false;
    reads.consumer = consumer;
    return true;
  }
}
