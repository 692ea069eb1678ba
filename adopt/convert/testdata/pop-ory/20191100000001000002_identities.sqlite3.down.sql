ALTER TABLE "identities" DROP COLUMN "nid";
