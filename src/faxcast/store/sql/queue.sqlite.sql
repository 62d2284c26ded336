-- The queue's statements that lock rows on PostgreSQL, for SQLite: one writer at a time, and
-- faxcast begins every transaction IMMEDIATE, so a transaction holds the write lock from its
-- start and needs no row locks. Same names as queue.postgresql.sql, FOR UPDATE left out.

-- renew_leases --
-- As in queue.postgresql.sql, without the lock.
UPDATE recipients SET lease_expires_at = :lease_expires_at
WHERE id IN (
  SELECT id FROM recipients
  WHERE id IN :ids AND worker_id = :worker_id AND state = 'in_call'
    AND lease_expires_at >= :now
  ORDER BY id
)
RETURNING id;

-- due_campaigns --
-- As in queue.postgresql.sql, without the lock.
SELECT id, account_id, line_id FROM campaigns
WHERE state = 'scheduled' AND send_at <= :now
ORDER BY id;

-- lock_line --
-- As in queue.postgresql.sql, without the lock.
SELECT * FROM lines WHERE id = :line_id AND account_id = :account_id;

-- first_calls --
-- As in queue.postgresql.sql, without the lock.
SELECT id, number, due_at FROM recipients
WHERE campaign_id = :campaign_id AND state = 'pending' AND due_at IS NULL
  AND number NOT IN (
    SELECT number FROM recipients WHERE state = 'in_call' OR held_until > :now
  )
ORDER BY due_at, id
LIMIT :most;

-- due_retries --
-- As in queue.postgresql.sql, without the lock.
SELECT id, number, due_at FROM recipients
WHERE campaign_id = :campaign_id AND state = 'pending' AND due_at <= :now
  AND number NOT IN (
    SELECT number FROM recipients WHERE state = 'in_call' OR held_until > :now
  )
ORDER BY due_at, id
LIMIT :most;

-- abandoned_claims --
-- As in queue.postgresql.sql, without the lock.
SELECT r.id, r.line_id, r.worker_id, c.account_id
FROM recipients r JOIN campaigns c ON c.id = r.campaign_id
WHERE r.state = 'in_call'
  AND (r.lease_expires_at < :now OR r.worker_id IN :gone_ids)
ORDER BY r.id;

-- lock_holders --
-- As in queue.postgresql.sql, without the lock.
SELECT r.id, r.state, r.worker_id, r.claimed_at, r.campaign_id, c.state AS campaign_state
FROM recipients r JOIN campaigns c ON c.id = r.campaign_id
WHERE r.id IN :ids
ORDER BY r.id;
