-- The queue's statements that lock rows on PostgreSQL: FOR UPDATE holds a row until the
-- transaction ends, SKIP LOCKED passes over rows another worker holds. queue.sqlite.sql
-- defines the same names.

-- renew_leases --
-- The holder extends the leases of the calls it still places or records: only its own, only
-- in a call, and only those not expired yet (an expired one recovery may take, and the holder
-- has hung up its call by then). The ids renewed come back; the others are lost to it. The
-- rows are locked first, in id order, as recording locks them: an UPDATE alone locks them in
-- the order its plan reads them, and two orders may deadlock.
UPDATE recipients SET lease_expires_at = :lease_expires_at
WHERE id IN (
  SELECT id FROM recipients
  WHERE id IN :ids AND worker_id = :worker_id AND state = 'in_call'
    AND lease_expires_at >= :now
  ORDER BY id
  FOR UPDATE
)
RETURNING id;

-- due_campaigns --
-- Scheduled campaigns whose time has come, locked so that one scheduler starts each.
SELECT id, account_id, line_id FROM campaigns
WHERE state = 'scheduled' AND send_at <= :now
ORDER BY id
FOR UPDATE SKIP LOCKED;

-- lock_line --
-- The line a claim is for, locked: claims on one line take turns, so that together they never
-- exceed its channel limit, and a stop waits for a claim under way on the line.
SELECT * FROM lines WHERE id = :line_id AND account_id = :account_id FOR UPDATE;

-- first_calls --
-- A campaign's recipients never called yet (no due time), in list order, locked. Read along
-- the claim index (campaign, state, due time, id), so it costs the same at any list size.
-- A number in a call anywhere, or held (a recovered call may still be up), is skipped: one
-- call at a time to a number, system-wide.
SELECT id, number, due_at FROM recipients
WHERE campaign_id = :campaign_id AND state = 'pending' AND due_at IS NULL
  AND number NOT IN (
    SELECT number FROM recipients WHERE state = 'in_call' OR held_until > :now
  )
ORDER BY due_at, id
LIMIT :most
FOR UPDATE SKIP LOCKED;

-- due_retries --
-- A campaign's recipients due for another call, soonest due first, locked.
SELECT id, number, due_at FROM recipients
WHERE campaign_id = :campaign_id AND state = 'pending' AND due_at <= :now
  AND number NOT IN (
    SELECT number FROM recipients WHERE state = 'in_call' OR held_until > :now
  )
ORDER BY due_at, id
LIMIT :most
FOR UPDATE SKIP LOCKED;

-- abandoned_claims --
-- Calls whose holder can no longer be calling: their lease expired (a holder that cannot renew
-- hangs up before that), or their holder is known gone (:gone_ids, a dead process of this
-- host). Recovery closes them as interrupted attempts. Locked, skipping those another
-- recovery holds.
SELECT r.id, r.line_id, r.worker_id, c.account_id
FROM recipients r JOIN campaigns c ON c.id = r.campaign_id
WHERE r.state = 'in_call'
  AND (r.lease_expires_at < :now OR r.worker_id IN :gone_ids)
ORDER BY r.id
FOR UPDATE OF r SKIP LOCKED;

-- lock_holders --
-- Before results are recorded: who holds each recipient now (worker and claim time), and its
-- campaign's state. Locked in id order, so two batches never wait on each other's rows in a
-- cycle.
SELECT r.id, r.state, r.worker_id, r.claimed_at, r.campaign_id, c.state AS campaign_state
FROM recipients r JOIN campaigns c ON c.id = r.campaign_id
WHERE r.id IN :ids
ORDER BY r.id
FOR UPDATE OF r;
