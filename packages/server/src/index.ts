export { startServer, startServices, type RunningServer, type RunningServices, type StartServerOptions } from "./server.js";
export { createServices, describeServices, LoopService, systemClock, type Clock, type ServiceResources } from "./services/index.js";
export { loadConfig, describeConfig, ConfigError, SERVICE_NAMES, type ServerConfig, type ServiceName } from "./config.js";
export { openDatabase, type Database } from "./db/database.js";
export { MIGRATIONS } from "./db/migrations/index.js";
export { nextScheduledTimes, scheduleTimes, checkSchedule, type TimeWindow } from "./scheduling/next-times.js";
export { EventStream, emitEvents, toReceived, EVENTS_TOPIC, type EmittedEvent } from "./events/event-stream.js";
export { createBus, MemoryBus, RedisBus, type MessagingConfig, type MessageBus, type MessageHandler, type SubscribeOptions } from "./messaging/index.js";
