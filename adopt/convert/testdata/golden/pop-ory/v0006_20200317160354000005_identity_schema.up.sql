ALTER TABLE "identities" ADD COLUMN "schema_id" VARCHAR (2048) NOT NULL DEFAULT 'default';
