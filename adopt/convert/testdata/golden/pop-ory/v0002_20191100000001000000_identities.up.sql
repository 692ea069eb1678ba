CREATE TABLE "identities" (
    "id" UUID NOT NULL,
    PRIMARY KEY("id"),
    "traits" jsonb NOT NULL,
    "created_at" timestamp NOT NULL,
    "updated_at" timestamp NOT NULL
);
