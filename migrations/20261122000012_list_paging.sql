-- Lists stream in order and page by key (`--limit`, `--after`): people by
-- email, sessions by (start, id). With these indexes `--limit N` reads N
-- index entries instead of sorting every row first. Raw email is unique
-- (its email_key is), so email alone orders people totally.
CREATE INDEX users_email_order_idx ON users (email);
CREATE INDEX sessions_start_id_idx ON sessions (starts_at, id);
