ALTER TABLE "identities" ADD COLUMN "nid" UUID;
ALTER TABLE "identities" ADD CONSTRAINT "identities_nid_fk" FOREIGN KEY ("nid") REFERENCES "networks" ("id") ON UPDATE RESTRICT ON DELETE CASCADE;
