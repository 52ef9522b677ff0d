-- A broadcast stored once (issue 19): one row per audience entry, whatever the audience's size,
-- at its NOTIFY stream position; `audience` is 'all' or 'team.<team>'.
CREATE TABLE audience_notifications (
    cursor       bigint      PRIMARY KEY,
    audience     text        NOT NULL,
    id           text        NOT NULL,
    type         text        NOT NULL,
    title        text        NOT NULL,
    message      text        NOT NULL,
    created_at   bigint      NOT NULL,
    broadcast_id text,
    team         text,
    stored_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audience_notifications_audience ON audience_notifications (audience, cursor);
CREATE INDEX audience_notifications_id ON audience_notifications (id);

-- A user belonged to an audience over the positions (from_cursor, to_cursor] (to now while
-- to_cursor is NULL): its entries there are the user's. A user's intervals of one audience
-- never overlap, and at most one is open.
CREATE TABLE audience_members (
    user_id     text   NOT NULL,
    audience    text   NOT NULL,
    from_cursor bigint NOT NULL,
    to_cursor   bigint,
    PRIMARY KEY (user_id, audience, from_cursor),
    CHECK (to_cursor IS NULL OR to_cursor > from_cursor)
);
CREATE UNIQUE INDEX audience_members_open ON audience_members (user_id, audience)
    WHERE to_cursor IS NULL;

-- The users known so far belong to 'all' and to the teams of their latest connection from the
-- start: no audience entry exists before this release, so from 0 is exact.
INSERT INTO audience_members (user_id, audience, from_cursor)
SELECT user_id, 'all', 0 FROM notification_users
UNION
SELECT user_id, 'team.' || team, 0 FROM notification_users, unnest(teams) AS team;
