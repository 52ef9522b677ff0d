-- Edits and deletions (docs/protocol.md §2, "Edit and delete"): each is a row of its own at its
-- own seq (kind 'edit' or 'delete', naming its target), so a room's rows stay gap-free; the
-- target's row carries its current state. Defaults that are constants: no table rewrite.
ALTER TABLE chat_messages
    ADD COLUMN kind       text    NOT NULL DEFAULT 'message',
    ADD COLUMN target_id  text,
    ADD COLUMN target_seq bigint,
    ADD COLUMN edit_count integer NOT NULL DEFAULT 0,
    ADD COLUMN edited_at  bigint,
    ADD COLUMN edited_seq bigint,
    ADD COLUMN deleted    boolean NOT NULL DEFAULT false;

CREATE INDEX chat_messages_target ON chat_messages (target_id) WHERE target_id IS NOT NULL;

-- Every version of an edited message: the original (at the message's seq) and each edit (at
-- the edit's seq). A deleted message keeps none.
CREATE TABLE chat_message_versions (
    message_id text   NOT NULL,
    seq        bigint NOT NULL,
    content    text   NOT NULL,
    sent_at    bigint NOT NULL,
    PRIMARY KEY (message_id, seq)
);
