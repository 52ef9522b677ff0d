-- Erasing a user (docs/protocol.md §4, "Erase a user"): the rows of what a user wrote are found
-- by sender, and each erased row is marked, so that a second erasure changes (and reports)
-- nothing, and an erased edit is never made a version of its message again.
ALTER TABLE chat_messages ADD COLUMN erased boolean NOT NULL DEFAULT false;

CREATE INDEX chat_messages_sender ON chat_messages (sender_id);
