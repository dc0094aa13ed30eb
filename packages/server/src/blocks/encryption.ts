import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The key file written under BATON_HOME when BATON_SERVER_ENCRYPTION_KEY is not set. */
export const KEY_FILE_NAME = "encryption.key";
const PREFIX = "aes-256-gcm:";

/**
 * Encrypts block document data at rest with AES-256-GCM (a fresh 12-byte IV per write; the
 * stored text is `aes-256-gcm:` and base64 of IV, tag and ciphertext), so a dump of the
 * database shows no secret. The key is BATON_SERVER_ENCRYPTION_KEY (32 bytes as base64 or
 * 64 hex digits) or, when that is unset, a key file created once under BATON_HOME with mode
 * 0600 and read back by every later start. The key is read on first use, so a server that
 * never touches a block never creates the file.
 */
export class BlockEncryption {
  private key: Buffer | undefined;

  constructor(private readonly source: { home: string; encryptionKey?: string | undefined }) {}

  encrypt(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.getKey(), iv);
    const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
    return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64");
  }

  decrypt(stored: string): string {
    if (!stored.startsWith(PREFIX)) throw new Error("block document data is not in the expected encrypted form");
    const raw = Buffer.from(stored.slice(PREFIX.length), "base64");
    const decipher = createDecipheriv("aes-256-gcm", this.getKey(), raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    try {
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
    } catch {
      throw new Error("cannot decrypt block document data: the encryption key is not the one it was written with (BATON_SERVER_ENCRYPTION_KEY or the key file under BATON_HOME)");
    }
  }

  private getKey(): Buffer {
    this.key ??= this.source.encryptionKey !== undefined ? parseEncryptionKey(this.source.encryptionKey) : keyFromFile(this.source.home);
    return this.key;
  }
}

/** A 32-byte key written as 64 hex digits or as base64; undefined when it is neither. */
export function parseEncryptionKey(text: string): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed) ? Buffer.from(trimmed, "hex") : Buffer.from(trimmed, "base64");
  if (key.length !== 32) throw new Error("an encryption key must be 32 bytes, written as base64 or as 64 hex digits");
  return key;
}

export function isEncryptionKey(text: string): boolean {
  try {
    parseEncryptionKey(text);
    return true;
  } catch {
    return false;
  }
}

function keyFromFile(home: string): Buffer {
  const path = join(home, KEY_FILE_NAME);
  mkdirSync(home, { recursive: true });
  try {
    // "wx" fails when the file exists, so two servers starting together keep one key.
    writeFileSync(path, `${randomBytes(32).toString("base64")}\n`, { flag: "wx", mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  try {
    return parseEncryptionKey(readFileSync(path, "utf8"));
  } catch (error) {
    throw new Error(`the block encryption key file ${path} is unreadable or damaged: ${(error as Error).message}`);
  }
}
