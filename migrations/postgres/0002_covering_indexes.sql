-- Indexes that let the previews count index entries in index-only scans,
-- without reading contact rows: at a million contacts, reading the rows of
-- the 80,000 contacts of two départements costs about a second, while
-- counting index entries costs milliseconds. Index-only scans need the
-- visibility map, which VACUUM (and autovacuum) keeps up to date.
--
-- The perso region index stays as it was: the previews only count its
-- ranges, and its duplicate keys compress into posting lists, which makes
-- those counts about twice as fast as on a wider index.
--
-- The pro region index also carries the perso address, so that "pro
-- address in the region but not the perso one" is decided on the index.
-- Each owner has two indexes, one led by each address side, which carry
-- the other side's region columns and the other owner: "in the region and
-- already owned by the target" then reads only that owner's entries in
-- the region's ranges. Every column is a key column rather than an
-- INCLUDE column, because B-tree deduplication (PostgreSQL 13 and later)
-- skips indexes with INCLUDE columns.
--
-- Any update that changes an indexed column adds an entry to every index
-- of the table, so a reassignment writes to two more indexes than before.

DROP INDEX contacts_pro_region;
DROP INDEX contacts_commercial_owner;
DROP INDEX contacts_technical_owner;

CREATE INDEX contacts_pro_region
    ON contacts (pro_country, pro_postal_norm, perso_country, perso_postal_norm);
CREATE INDEX contacts_commercial_owner
    ON contacts (commercial_owner_id, perso_country, perso_postal_norm, technical_owner_id);
CREATE INDEX contacts_commercial_owner_pro
    ON contacts (commercial_owner_id, pro_country, pro_postal_norm,
                 perso_country, perso_postal_norm, technical_owner_id);
CREATE INDEX contacts_technical_owner
    ON contacts (technical_owner_id, perso_country, perso_postal_norm, commercial_owner_id);
CREATE INDEX contacts_technical_owner_pro
    ON contacts (technical_owner_id, pro_country, pro_postal_norm,
                 perso_country, perso_postal_norm, commercial_owner_id);
