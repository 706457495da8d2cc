/**
 * A WebSocket close frame as a server sends it (RFC 6455 §5.5.1: FIN +
 * opcode 8, unmasked, the status code then the reason). The gateway writes
 * one itself only where it closes a spliced WebSocket at a frame boundary:
 * at shutdown and when the socket has been idle too long.
 */
export function closeFrame(code: number, reason: string): Buffer {
  const text = Buffer.from(reason);
  const frame = Buffer.alloc(4 + text.length);
  frame[0] = 0x88;
  frame[1] = 2 + text.length;
  frame.writeUInt16BE(code, 2);
  text.copy(frame, 4);
  return frame;
}
