ALTER TABLE "identities" ADD COLUMN "nid" TEXT;
