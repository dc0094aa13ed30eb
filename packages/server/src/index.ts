export { startServer, startServices, type RunningServer, type RunningServices, type StartServerOptions } from "./server.js";
export { createServices, describeServices, LoopService, systemClock, type Clock, type ServiceResources } from "./services/index.js";
export { loadConfig, describeConfig, ConfigError, SERVICE_NAMES, type ServerConfig, type ServiceName } from "./config.js";
export { openDatabase, type Database } from "./db/database.js";
export { MIGRATIONS } from "./db/migrations/index.js";
export { nextScheduledTimes, scheduleTimes, checkSchedule, type TimeWindow } from "./scheduling/next-times.js";
export { TriggersService, TRIGGERS_CONSUMER_GROUP } from "./services/triggers.js";
export { TriggerEngine } from "./automations/trigger-engine.js";
export { renderTemplate, validateTemplate } from "./automations/templates.js";
