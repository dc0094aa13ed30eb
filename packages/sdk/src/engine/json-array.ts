/**
 * A JSON array whose elements arrive as JSON text, one at a time, and are written at once as
 * UTF-8 into one growing buffer. A batch of 1,000 task-run events held as strings (or objects)
 * until it is sent outlives the young generation, and V8 copies and then promotes every piece
 * of it; bytes outside the JS heap cost the collector nothing, and need no encoding when sent.
 */
export class JsonArrayBytes {
  private bytes: Buffer;
  private length = 1;
  /** Elements pushed so far. */
  count = 0;

  /** `reuse`: a buffer to write into (one whose earlier contents are done with), else a new one of `initialBytes`. */
  constructor(initialBytes = 64 * 1024, reuse?: Buffer) {
    // allocUnsafeSlow: never a slice of Node's shared pool, so the buffer may be handed on for reuse.
    this.bytes = reuse !== undefined && reuse.length >= 16 ? reuse : Buffer.allocUnsafeSlow(Math.max(initialBytes, 16));
    this.bytes[0] = 0x5b; // [
  }

  push(json: string): void {
    // A UTF-16 code unit is at most 3 bytes of UTF-8; 2 more for a comma and the closing bracket.
    // Only when that much room is not left is the text measured, so the buffer grows to the
    // batch's size rather than three times it.
    if (this.length + json.length * 3 + 2 > this.bytes.length) {
      const needed = this.length + Buffer.byteLength(json, "utf8") + 2;
      if (needed > this.bytes.length) this.grow(needed);
    }
    if (this.count > 0) this.bytes[this.length++] = 0x2c; // ,
    this.length += this.bytes.write(json, this.length, "utf8");
    this.count++;
  }

  /** Bytes written so far: a good first size for the next batch. */
  get byteLength(): number {
    return this.length + 1;
  }

  /** The whole buffer written into (more than `finish()`'s bytes), for a later JsonArrayBytes once those are sent. */
  get buffer(): Buffer {
    return this.bytes;
  }

  /** The array's UTF-8 bytes, closed (push no more after this). */
  finish(): Buffer {
    this.bytes[this.length++] = 0x5d; // ] (push kept room for it)
    return this.bytes.subarray(0, this.length);
  }

  private grow(needed: number): void {
    const bigger = Buffer.allocUnsafeSlow(Math.max(needed, this.bytes.length * 2));
    this.bytes.copy(bigger, 0, 0, this.length);
    this.bytes = bigger;
  }
}
