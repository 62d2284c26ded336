-- The queue: the recipients table is the queue (DESIGN.md, "dispatch"), and these are its
-- statements, by name. A statement that differs between the databases (they differ only in
-- how rows are locked) is in queue.postgresql.sql and queue.sqlite.sql instead.
-- Locks are taken in one order, line then recipients then campaign; a use case that takes
-- recipients out of a campaign (removing flagged numbers, deleting it) locks the line first as
-- well, so it never holds a lock a claim waits for while waiting on one the claim holds.

-- register_worker --
-- A worker announces itself; its heartbeats then tell the others it is alive.
INSERT INTO workers (id, hostname, pid, started_at, heartbeat_at)
VALUES (:worker_id, :hostname, :pid, :now, :now);

-- heartbeat --
-- The worker is alive (for the record and for pruning: its claims live by their leases).
UPDATE workers SET heartbeat_at = :now WHERE id = :worker_id;

-- workers_on_host --
-- The other workers registered from this host: those whose process is gone hold no call.
SELECT id, pid FROM workers WHERE hostname = :hostname AND id <> :worker_id;

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

-- calls_on_line --
-- How many channels of the line are busy now: its calls, and the recovered calls it holds
-- (their holders may still be calling; Worker, dispatch/worker.py); and how many of those are
-- retries (a due time: the recipient was called before), for the retries' share in a claim.
SELECT count(*) AS calls, count(due_at) AS retries FROM recipients
WHERE line_id = :line_id AND (state = 'in_call' OR held_until > :now);

-- running_campaigns --
-- The line's running campaigns, oldest first: the order their first calls are claimed in.
SELECT id FROM campaigns
WHERE account_id = :account_id AND line_id = :line_id AND state = 'running'
ORDER BY id;

-- claim_recipients --
-- The claim: the chosen recipients (locked and pending) go in a call, leased to the worker
-- until :lease_expires_at. By primary key only, whatever the planner thinks of a new list.
UPDATE recipients
SET state = 'in_call', worker_id = :worker_id, claimed_at = :now,
    lease_expires_at = :lease_expires_at, held_until = NULL, calls = calls + 1
WHERE id IN :ids;

-- claimed --
-- What the calls of claimed recipients need: number, history, document and quality, and
-- when their campaign started (how late a first call is), their pages' bits on the line (the
-- watchdog's cap), and their account's time zone and language (the header line's).
SELECT r.*, c.account_id, c.quality, c.started_at, d.tiff_sha256, d.pages, d.page_bits,
       a.timezone, a.language
FROM recipients r
JOIN campaigns c ON c.id = r.campaign_id
JOIN renditions d ON d.id = c.rendition_id
JOIN accounts a ON a.id = c.account_id
WHERE r.id IN :ids
ORDER BY r.id;

-- end_lease --
-- A call has ended: the recipient is delivered, failed, or pending again until :due_at, and
-- its lease is released. A settled recipient keeps the due time of its last retry.
UPDATE recipients
SET state = :state, reason = :reason, due_at = coalesce(:due_at, due_at),
    settled_at = :settled_at, dials = :dials, tries = :tries, no_fax = :no_fax,
    first_dial_at = :first_dial_at, pages_confirmed = :pages_confirmed, waited_s = :waited_s,
    worker_id = NULL, claimed_at = NULL, lease_expires_at = NULL
WHERE id = :id;

-- hold_recovered --
-- A recovered call whose holder may still be calling keeps its channel and number until
-- :held_until (its longest possible end). Its own number held, its retry waits as well.
UPDATE recipients SET held_until = :held_until WHERE id = :id;

-- release_hold --
-- A late result: the held call has ended. Only its own hold, which ends by :held_until; a
-- later call's ends later.
UPDATE recipients SET held_until = NULL
WHERE id = :id AND held_until <= :held_until;

-- attempts_on_record --
-- The attempts of these recipients on record: which recipients an earlier call delivered (a
-- result recorded late), and which calls are written already, by the claim each was placed
-- under (a result written again, its first write committed, then reported an error).
SELECT recipient_id, claimed_at, delivered FROM attempts WHERE recipient_id IN :ids;

-- drop_interrupted --
-- A late result replaces the interrupted attempt recovery wrote for the same call (same
-- recipient and start), so each call is on record once, with what really happened.
DELETE FROM attempts
WHERE recipient_id = :recipient_id AND started_at = :started_at AND failure = 'transfer_failed'
  AND reason LIKE 'interrupted:%';

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

-- count_removed --
-- Recipients taken out of a campaign that has not started (its flagged numbers): its total
-- follows, from the total it was decided on; no row means it started or changed meanwhile.
UPDATE campaigns SET count_total = :count_total
WHERE id = :id AND started_at IS NULL AND count_total = :expected_total;

-- calls_of_campaign --
-- How many of a campaign's calls may be in progress now: its recipients in a call, and those
-- held (recovered calls a paused worker may still be placing). A stop ends when none is left.
SELECT count(*) FROM recipients
WHERE campaign_id = :campaign_id AND (state = 'in_call' OR held_until > :now);

-- expire_holds --
-- Holds whose time has come end (their calls have surely ended by then), which keeps the
-- holds' index range short; the campaigns they belonged to come back: a stop may end now.
UPDATE recipients SET held_until = NULL WHERE held_until <= :now
RETURNING campaign_id;

-- stopping_campaigns --
-- Which of these campaigns are stopping, in id order (the order campaigns are locked in).
SELECT id, account_id, line_id FROM campaigns
WHERE id IN :ids AND state = 'stopping'
ORDER BY id;

-- save_campaign --
-- The one write of a campaign's lifecycle, from the state it was decided on: no row means
-- someone else moved it meanwhile.
UPDATE campaigns
SET state = :state, outcome = :outcome, error = :error, started_at = :started_at,
    finished_at = :finished_at
WHERE id = :id AND state = :expected_state;
