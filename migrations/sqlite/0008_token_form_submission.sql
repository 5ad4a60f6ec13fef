-- A token form sent twice (a double click, a page the browser sends again)
-- must create one token, whichever application server receives each
-- sending. Each form carries a random key, scoped to the administrator
-- who sent it; the key is stored with the token it created, and the unique
-- index lets a second sending find that token instead of creating another.
-- Tokens created without a form (command line) have none.

ALTER TABLE api_tokens ADD COLUMN submission TEXT;

CREATE UNIQUE INDEX api_tokens_submission ON api_tokens (submission);
