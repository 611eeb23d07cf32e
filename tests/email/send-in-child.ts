/**
 * Runs one sendDraft in a process of its own, so a test can kill the process at the
 * worst moment: after the provider accepted the message, before the ledger commit.
 */
import { createSendingActivities } from '../../activities/sending';
import { createStripeReader } from '../../activities/stripe-reader';
import { createDb } from '../../db/knex';
import { createSendGridSender } from '../../email/sendgrid';
import { createLogger } from '../../platform/logger';

async function main(): Promise<void> {
  const db = createDb(process.env.DATABASE_URL!, 2);
  const acts = createSendingActivities({
    db,
    email: createSendGridSender({ apiKey: 'SG.child', baseUrl: process.env.RECEIVER_URL! }),
    // No precondition is checked in this process, so Stripe is never asked.
    stripe: createStripeReader(() => Promise.reject(new Error('Stripe is not used here'))),
    log: createLogger('silent', 'send-in-child'),
  });
  console.log(JSON.stringify(await acts.sendDraft({ draftId: process.env.DRAFT_ID!, actor: 'system:test' })));
  await db.destroy();
}

void main();
