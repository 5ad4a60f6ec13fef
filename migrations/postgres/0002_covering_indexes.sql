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
-- The pro region index also carries the perso address and both owners, so
-- that "pro address in the region but not the perso one", and who owns
-- those contacts, are decided on the index. Each owner index is led by
-- the owner and the perso address, so that "perso address in the region
-- and already owned by the target" reads only that owner's entries in the
-- region's ranges, and carries the other owner. Every column is a key
-- column rather than an INCLUDE column, because B-tree deduplication
-- (PostgreSQL 13 and later) skips indexes with INCLUDE columns.
--
-- Any update that changes an indexed column adds an entry to every index
-- of the table, and wider entries make reassignments slower. At a million
-- contacts, the two owner updates of a user reassignment (90,000 rows)
-- took 5.8 to 7.0 s with these indexes against 4.3 to 4.6 s with the
-- first schema (two runs each, back to back, on a loaded 2-core machine).
-- Two more owner indexes, led by the pro address, made the region preview
-- about 1 ms faster and those updates 12 to 13 s, so they were left out.

DROP INDEX contacts_pro_region;
DROP INDEX contacts_commercial_owner;
DROP INDEX contacts_technical_owner;

CREATE INDEX contacts_pro_region
    ON contacts (pro_country, pro_postal_norm, perso_country, perso_postal_norm,
                 commercial_owner_id, technical_owner_id);
CREATE INDEX contacts_commercial_owner
    ON contacts (commercial_owner_id, perso_country, perso_postal_norm, technical_owner_id);
CREATE INDEX contacts_technical_owner
    ON contacts (technical_owner_id, perso_country, perso_postal_norm, commercial_owner_id);
