-- Reactions (docs/protocol.md §2, "Reactions"): each react/unreact is a row of chat_messages at
-- its own seq (kind 'react' or 'unreact', content the emoji, naming its target). This table is
-- the state they leave: per (message, emoji, user) the latest of them by seq, and whether it
-- added the emoji. Keeping a taken-back one (added false) lets an older event that arrives later
-- change nothing.
CREATE TABLE chat_reactions (
    message_id text    NOT NULL,
    emoji      text    NOT NULL,
    user_id    text    NOT NULL,
    seq        bigint  NOT NULL,
    added      boolean NOT NULL,
    PRIMARY KEY (message_id, emoji, user_id)
);

-- Set while a message holds any reaction, so that reading messages back asks chat_reactions
-- only for those that do. A constant default: no table rewrite.
ALTER TABLE chat_messages ADD COLUMN reacted boolean NOT NULL DEFAULT false;
