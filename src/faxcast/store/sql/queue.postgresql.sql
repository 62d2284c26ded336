-- The queue on PostgreSQL: the recipients table is the queue (DESIGN.md, "dispatch").
-- Locks are taken in one order, line then recipients then campaign, so no two transactions
-- wait on each other in a cycle. queue.sqlite.sql defines the same names.

-- register_worker --
-- A worker announces itself; its heartbeats then tell the others it is alive.
INSERT INTO workers (id, hostname, pid, started_at, heartbeat_at)
VALUES (:worker_id, :hostname, :pid, :now, :now);

-- heartbeat --
-- The worker is alive: its claims are not to be recovered.
UPDATE workers SET heartbeat_at = :now WHERE id = :worker_id;

-- unregister_worker --
-- A worker that stopped cleanly, once its calls have ended and been recorded.
DELETE FROM workers WHERE id = :worker_id;

-- prune_dead_workers --
-- Forget workers silent since :dead_before that hold no call any more.
DELETE FROM workers
WHERE heartbeat_at < :dead_before
  AND id NOT IN (
    SELECT worker_id FROM recipients WHERE state = 'in_call' AND worker_id IS NOT NULL
  );

-- due_campaigns --
-- Scheduled campaigns whose time has come, locked so that one scheduler starts each.
SELECT id, account_id, line_id FROM campaigns
WHERE state = 'scheduled' AND send_at <= :now
ORDER BY id
FOR UPDATE SKIP LOCKED;

-- lines_with_work --
-- (account, line) of lines with a recipient due in a running campaign: two probes of the
-- claim index per campaign rather than one scan of every pending recipient.
SELECT DISTINCT c.account_id, c.line_id FROM campaigns c
WHERE c.state = 'running'
  AND (
    EXISTS (SELECT 1 FROM recipients r WHERE r.campaign_id = c.id AND r.state = 'pending'
            AND r.due_at IS NULL)
    OR EXISTS (SELECT 1 FROM recipients r WHERE r.campaign_id = c.id AND r.state = 'pending'
               AND r.due_at <= :now)
  );

-- lock_line --
-- The line a claim is for, locked: claims on one line take turns, so that together they never
-- exceed its channel limit, and a stop waits for a claim under way on the line.
SELECT * FROM lines WHERE id = :line_id AND account_id = :account_id FOR UPDATE;

-- calls_on_line --
-- How many channels of the line are busy now.
SELECT count(*) FROM recipients WHERE line_id = :line_id AND state = 'in_call';

-- running_campaigns --
-- The line's running campaigns, oldest first: the order their recipients are claimed in.
SELECT id FROM campaigns
WHERE account_id = :account_id AND line_id = :line_id AND state = 'running'
ORDER BY id;

-- first_calls --
-- A campaign's recipients never called yet (no due time), in list order, locked. Read along
-- the claim index (campaign, state, due time, id), so it costs the same at any list size.
-- A number in a call anywhere is skipped: one call at a time to a number, system-wide.
SELECT id, number, due_at FROM recipients
WHERE campaign_id = :campaign_id AND state = 'pending' AND due_at IS NULL
  AND number NOT IN (SELECT number FROM recipients WHERE state = 'in_call')
ORDER BY due_at, id
LIMIT :most
FOR UPDATE SKIP LOCKED;

-- due_retries --
-- A campaign's recipients due for another call, soonest due first, locked.
SELECT id, number, due_at FROM recipients
WHERE campaign_id = :campaign_id AND state = 'pending' AND due_at <= :now
  AND number NOT IN (SELECT number FROM recipients WHERE state = 'in_call')
ORDER BY due_at, id
LIMIT :most
FOR UPDATE SKIP LOCKED;

-- claim_recipients --
-- The claim: the chosen recipients (locked and pending) go in a call, leased to the worker
-- until :lease_expires_at. By primary key only, whatever the planner thinks of a new list.
UPDATE recipients
SET state = 'in_call', worker_id = :worker_id, claimed_at = :now,
    lease_expires_at = :lease_expires_at, calls = calls + 1
WHERE id IN :ids;

-- claimed --
-- What the calls of claimed recipients need: number, history, document and quality.
SELECT r.*, c.account_id, c.quality, d.tiff_sha256, d.pages
FROM recipients r
JOIN campaigns c ON c.id = r.campaign_id
JOIN renditions d ON d.id = c.rendition_id
WHERE r.id IN :ids
ORDER BY r.id;

-- abandoned_claims --
-- Calls whose lease expired or whose worker stopped beating since :dead_before: recovery
-- closes them as interrupted attempts. Locked, skipping those another recovery holds.
SELECT r.id, r.line_id, r.worker_id, c.account_id
FROM recipients r JOIN campaigns c ON c.id = r.campaign_id
WHERE r.state = 'in_call'
  AND (
    r.lease_expires_at < :now
    OR r.worker_id IS NULL
    OR r.worker_id NOT IN (SELECT id FROM workers WHERE heartbeat_at >= :dead_before)
  )
ORDER BY r.id
FOR UPDATE OF r SKIP LOCKED;

-- lock_holders --
-- Before results are recorded: who holds each recipient now, and its campaign's state. Locked
-- in id order, so two batches never wait on each other's rows in a cycle.
SELECT r.id, r.state, r.worker_id, r.campaign_id, c.state AS campaign_state
FROM recipients r JOIN campaigns c ON c.id = r.campaign_id
WHERE r.id IN :ids
ORDER BY r.id
FOR UPDATE OF r;

-- end_lease --
-- A call has ended: the recipient is delivered, failed, or pending again until :due_at, and
-- its lease is released. A settled recipient keeps the due time of its last retry.
UPDATE recipients
SET state = :state, reason = :reason, due_at = coalesce(:due_at, due_at),
    settled_at = :settled_at, dials = :dials, tries = :tries, no_fax = :no_fax,
    first_dial_at = :first_dial_at, pages_confirmed = :pages_confirmed,
    worker_id = NULL, claimed_at = NULL, lease_expires_at = NULL
WHERE id = :id;

-- fail_pending --
-- A campaign that cannot run: every recipient not in a call fails with it.
UPDATE recipients
SET state = 'failed', reason = :reason, settled_at = :now
WHERE campaign_id = :campaign_id AND state = 'pending';

-- count_settled --
-- The settle step: add newly delivered and failed recipients to the campaign's counts, kept in
-- the same transaction as the recipients; the campaign comes back for the lifecycle to decide.
UPDATE campaigns
SET count_delivered = count_delivered + :delivered, count_failed = count_failed + :failed
WHERE id = :campaign_id
RETURNING *;

-- calls_of_campaign --
-- How many of a campaign's recipients are in a call now.
SELECT count(*) FROM recipients WHERE campaign_id = :campaign_id AND state = 'in_call';

-- save_campaign --
-- The one write of a campaign's lifecycle, from the state it was decided on: no row means
-- someone else moved it meanwhile.
UPDATE campaigns
SET state = :state, outcome = :outcome, error = :error, started_at = :started_at,
    finished_at = :finished_at
WHERE id = :id AND state = :expected_state;
