-- Emails are one address whatever their case or Unicode composition, in
-- full Unicode: `ÖLA@x.com`, `öla@x.com` and `o` + U+0308 + `la@x.com` are
-- one person (DESIGN.md, Domain rules, Emails).
--
-- The old unique index was on lower(email). Under a C ctype (coachctl's
-- embedded cluster, many managed servers) lower() folds ASCII only, so `ÖLA@`
-- and `öla@` were two people. email_key() is the canonical key instead:
-- NFC, full-Unicode lowercase, NFC. Full-Unicode lowercase needs a collation
-- that knows Unicode whatever the database's own: ICU's root locale
-- ("und-x-icu", present whenever PostgreSQL is built with ICU, as every
-- common distribution and managed service is); else PostgreSQL 17's builtin
-- "pg_c_utf8"; else the database default, which is right for any UTF-8
-- libc locale. coachctl stores emails in the same canonical form
-- (src/domain/email.rs) and looks them up by this key, so both agree.

DO $do$
DECLARE
    -- normalize() needs a UTF-8 database; any other encoding has no
    -- decomposed forms to compose anyway.
    nfc text := CASE WHEN current_setting('server_encoding') = 'UTF8'
                     THEN 'normalize(%s, NFC)' ELSE '%s' END;
    unicode_collation text := '';
    key text;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu') THEN
        unicode_collation := ' COLLATE "und-x-icu"';
    ELSIF EXISTS (SELECT 1 FROM pg_collation WHERE collname = 'pg_c_utf8') THEN
        unicode_collation := ' COLLATE "pg_c_utf8"';
    END IF;
    key := format(nfc, format('lower(%s%s)', format(nfc, 'btrim(email)'), unicode_collation));
    -- A plain SQL function: the planner inlines it, so the unique index
    -- below also serves every lookup written as email_key(u.email) = email_key($1).
    EXECUTE format(
        'CREATE FUNCTION email_key(email text) RETURNS text
            LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
            AS $f$ SELECT %s $f$',
        key);
END
$do$;

-- Existing people who are one address under the new key cannot be merged
-- automatically: name them, and change nothing.
DO $do$
DECLARE
    clashes text;
BEGIN
    SELECT string_agg(emails, '; ') INTO clashes
    FROM (
        SELECT string_agg(email, ', ' ORDER BY created_at) AS emails
        FROM users
        GROUP BY email_key(email)
        HAVING count(*) > 1
    ) c;
    IF clashes IS NOT NULL THEN
        RAISE EXCEPTION 'these users have the same email in full Unicode (case and composition ignored): %; change or remove all but one of each, then migrate again', clashes
            USING ERRCODE = 'CC001';
    END IF;
END
$do$;

-- Same name as before: src/users.rs maps a violation of users_email_key to
-- "a user with email ... already exists" (exit 6).
DROP INDEX users_email_key;
UPDATE users SET email = email_key(email) WHERE email IS DISTINCT FROM email_key(email);
CREATE UNIQUE INDEX users_email_key ON users (email_key(email));
