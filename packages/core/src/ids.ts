let lastMs = 0;
let sequence = 0;

/**
 * A UUIDv7: time-ordered, so ids sort by creation (ID_DESC lists newest first, and logs of
 * one batch keep their order), and rows keyed by them are appended to their primary-key
 * index instead of written all over it: a batch of 1,000 task-run states with random (v4) ids
 * dirties a page of the index for almost every row, and every dirty page is written again
 * at commit. Within one millisecond a 12-bit counter keeps them increasing.
 *
 * @example
 * const id = newId(); // "019b0f5e-8a3c-7000-9d2e-5b1c..."
 */
export function newId(): string {
  let ms = Date.now();
  if (ms <= lastMs) {
    sequence += 1;
    if (sequence > 0xfff) {
      lastMs += 1;
      sequence = 0;
    }
    ms = lastMs;
  } else {
    lastMs = ms;
    sequence = 0;
  }
  if (poolOffset + 8 > pool.length) {
    crypto.getRandomValues(pool);
    poolOffset = 0;
  }
  const at = poolOffset;
  poolOffset += 8;
  const hex = ms.toString(16).padStart(12, "0");
  const seq = (0x7000 | sequence).toString(16);
  let rest = HEX[(pool[at]! & 0x3f) | 0x80]!;
  for (let i = at + 1; i < at + 8; i++) rest += HEX[pool[i]!]!;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${seq}-${rest.slice(0, 4)}-${rest.slice(4, 16)}`;
}

// Random bytes are drawn 4 KiB at a time and bytes are written through a table: one call to the
// system's generator per id was a visible share of a batch insert of thousands of logs or events.
const pool = new Uint8Array(4096);
let poolOffset = pool.length;
const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));
