/**
 * The PagerDuty Events API v2 event, typed and validated (pdjs ships no checked types for it), with
 * the documented limits: routing_key 32 chars, dedup_key <= 255, summary <= 1024 (we truncate, as
 * PagerDuty would silently), whole event <= 512 KB.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

export const ROUTING_KEY_LENGTH = 32;
export const MAX_DEDUP_KEY = 255;
export const MAX_SUMMARY = 1024;
export const MAX_EVENT_BYTES = 512 * 1024;
export const EVENT_ACTIONS = ['trigger', 'acknowledge', 'resolve'] as const;
export const PD_SEVERITIES = ['critical', 'error', 'warning', 'info'] as const;
export type PagerDutySeverity = (typeof PD_SEVERITIES)[number];
export type EventAction = (typeof EVENT_ACTIONS)[number];

const linkSchema = z.object({ href: z.url(), text: z.string().max(1024).optional() }).strict();
const imageSchema = z.object({ src: z.url(), href: z.url().optional(), alt: z.string().optional() }).strict();

export const payloadSchema = z
  .object({
    summary: z.string().min(1).max(MAX_SUMMARY),
    source: z.string().min(1).max(255),
    severity: z.enum(PD_SEVERITIES),
    timestamp: z.iso.datetime({ offset: true }).optional(),
    component: z.string().max(255).optional(),
    group: z.string().max(255).optional(),
    class: z.string().max(255).optional(),
    custom_details: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

export const eventSchema = z
  .discriminatedUnion('event_action', [
    z
      .object({
        routing_key: z.string().length(ROUTING_KEY_LENGTH),
        event_action: z.literal('trigger'),
        dedup_key: z.string().min(1).max(MAX_DEDUP_KEY).optional(),
        payload: payloadSchema,
        links: z.array(linkSchema).optional(),
        images: z.array(imageSchema).optional(),
        client: z.string().optional(),
        client_url: z.url().optional(),
      })
      .strict(),
    z
      .object({
        routing_key: z.string().length(ROUTING_KEY_LENGTH),
        event_action: z.enum(['acknowledge', 'resolve']),
        dedup_key: z.string().min(1).max(MAX_DEDUP_KEY),
      })
      .strict(),
  ])
  .superRefine((event, ctx) => {
    const bytes = Buffer.byteLength(JSON.stringify(event));
    if (bytes > MAX_EVENT_BYTES) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: `event is ${bytes} bytes, the limit is ${MAX_EVENT_BYTES}`,
      });
    }
  });

export type PagerDutyEvent = z.infer<typeof eventSchema>;
export type TriggerEvent = Extract<PagerDutyEvent, { event_action: 'trigger' }>;

/** Cuts a summary to PagerDuty's 1024 characters, marking the cut. */
export function truncateSummary(summary: string): string {
  if (summary.length <= MAX_SUMMARY) return summary;
  let end = MAX_SUMMARY - 1;
  // Not between the two halves of a surrogate pair (an emoji): half of one is no character.
  const last = summary.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${summary.slice(0, end)}…`;
}

/** A dedup key that fits: long keys become a stable hash, so trigger and resolve still pair up. */
export function fitDedupKey(key: string): string {
  if (key.length <= MAX_DEDUP_KEY) return key;
  return `sha256:${createHash('sha256').update(key).digest('hex')}`;
}

/** Validation errors as `field: message` (never the values: they may carry a routing key). */
export function validateEvent(
  event: unknown,
): { ok: true; event: PagerDutyEvent } | { ok: false; errors: string[] } {
  const parsed = eventSchema.safeParse(event);
  if (parsed.success) return { ok: true, event: parsed.data };
  return {
    ok: false,
    errors: parsed.error.issues.map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`),
  };
}
