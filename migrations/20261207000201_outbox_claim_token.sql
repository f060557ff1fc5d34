-- Whose claim an outbox message is under (issue 18): `notify send` stamps
-- each batch it claims with a token of its own, and right before handing a
-- message to SMTP renews the lease only while the token is still its own.
-- A message whose lease ran out and that another sender claimed since
-- carries that sender's token, so the first one skips it instead of
-- sending it a second time. NULL when no one holds the message.
ALTER TABLE outbox ADD COLUMN claim_token uuid;
