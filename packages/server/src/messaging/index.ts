import type { BusLogger, MessageBus } from "./bus.js";
import { MemoryBus } from "./memory-bus.js";
import { RedisBus } from "./redis-bus.js";

export interface MessagingConfig {
  /** `memory` (one process) or `redis` (Redis Streams, shared by several server processes). */
  broker: "memory" | "redis";
  redisUrl: string;
  redisPrefix: string;
  redisStreamMaxLength: number;
}

/** The bus the configuration asks for; a Redis that cannot be reached fails here. */
export async function createBus(config: MessagingConfig, logger?: BusLogger): Promise<MessageBus> {
  switch (config.broker) {
    case "memory":
      return new MemoryBus(logger);
    case "redis":
      return RedisBus.connect({ url: config.redisUrl, prefix: config.redisPrefix, maxLength: config.redisStreamMaxLength, logger });
  }
}

export { MemoryBus } from "./memory-bus.js";
export { RedisBus } from "./redis-bus.js";
export type { MessageBus, MessageHandler, SubscribeOptions, BusLogger } from "./bus.js";
