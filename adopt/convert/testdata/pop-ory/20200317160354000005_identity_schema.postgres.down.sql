ALTER TABLE "identities" DROP COLUMN "schema_id";
