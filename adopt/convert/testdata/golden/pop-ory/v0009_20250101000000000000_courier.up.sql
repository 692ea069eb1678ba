CREATE TABLE "courier_messages" (
    "id" UUID NOT NULL,
    PRIMARY KEY("id"),
    "nid" UUID REFERENCES "networks" ("id") ON DELETE CASCADE,
    "body" text NOT NULL DEFAULT '',
    "status" INTEGER NOT NULL DEFAULT 1
);
