-- API tokens can be revoked, and record when they were last used.
--
-- A revoked token keeps its row, so that the list still shows who had it
-- and when it was revoked; `revoked_at` is never cleared. Deactivating a
-- user sets it on every token of the user, so that reactivating the user
-- does not bring the tokens back.
--
-- `last_used_at` is written at most once a minute per token, so that API
-- calls do not each take the write lock.

ALTER TABLE api_tokens ADD COLUMN revoked_at TEXT;
ALTER TABLE api_tokens ADD COLUMN last_used_at TEXT;

CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- Before this migration a deactivated user's tokens only stopped working
-- while the user stayed inactive. Revoke them now, so that a later
-- reactivation does not revive them. The time has the format that
-- `rows::timestamp` writes.
UPDATE api_tokens
   SET revoked_at = strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')
 WHERE user_id IN (SELECT id FROM users WHERE active = 0);
