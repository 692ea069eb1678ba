ALTER TABLE "identities" DROP CONSTRAINT "identities_nid_fk";
ALTER TABLE "identities" DROP COLUMN "nid";
