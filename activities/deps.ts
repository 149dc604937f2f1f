// What activities need from the worker that runs them: where job files live, how to reach Temporal (for progress
// signals), and the notification settings. Built once by the worker from config and environment.
import type { Client } from '@temporalio/client';

export interface SmtpSettings {
  host: string;
  port: number;
  secure?: boolean;
  from: string;
  auth?: { user: string; pass: string };
}

export interface ActivityDeps {
  /** Job files live under <dataDir>/jobs/<jobId>/… */
  dataDir: string;
  /** Used to signal progress to job workflows; without it, progress is only heartbeated. */
  client?: Client;
  smtp?: SmtpSettings;
  /** HMAC key for webhook signatures and signed review links. */
  secret: string;
  /** Base URL of the HTTP API, for links in notifications (e.g. http://127.0.0.1:8080). */
  publicUrl: string;
  /** Minimum interval between progress signals to a workflow (ms); grows with the run's age. Default 2000. */
  progressSignalIntervalMs?: number;
  /** How often a resource lock checks that its holders still run, while others wait (ms). Default 60 s. */
  resourceCheckIntervalMs?: number;
}
