/** Public API of the reference service (used by tests, scripts, bench and the end-to-end suite). */
export { startService } from './service';
export type { RunningService, StartServiceOptions } from './service';
export { loadConfig, ConfigError } from './config';
export type { AppConfig } from './config';
export { createPhiCipher, PhiDecryptionError } from './crypto/phi-cipher';
export type { PhiCipher } from './crypto/phi-cipher';
export { totpCode } from './auth/totp';
export { readCredentialsFile } from './seed/demo-seed';
export type { DemoCredentials, DemoUser } from './seed/demo-seed';
export { PAYMENT_METHODS } from './routes/billing-routes';
export { runScenario, SCENARIOS } from './simulator';
export type { Scenario, ScenarioOptions, ScenarioSummary } from './simulator';
