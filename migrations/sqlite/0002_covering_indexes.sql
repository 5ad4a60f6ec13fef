-- Indexes that answer the preview counts on their own, without reading
-- contact rows: at a million contacts, reading the rows of the 80,000
-- contacts of two départements costs tens of milliseconds, while counting
-- index entries costs a few.
--
-- Each region index also carries the other address side, so that "pro
-- address in the region but not the perso one" is decided on the index.
-- Each owner index carries both addresses' region columns, so that "in the
-- region and already owned by the target" reads only that owner's entries.
-- The commercial index also carries the technical owner, which counts the
-- contacts a user owns on both roles. A reassignment rewrites the entries
-- of the owner index whose key it changes anyway; the region indexes hold
-- no owner and are untouched by reassignments.

DROP INDEX contacts_perso_region;
DROP INDEX contacts_pro_region;
DROP INDEX contacts_commercial_owner;
DROP INDEX contacts_technical_owner;

CREATE INDEX contacts_perso_region
    ON contacts (perso_country, perso_postal_norm, pro_country, pro_postal_norm);
CREATE INDEX contacts_pro_region
    ON contacts (pro_country, pro_postal_norm, perso_country, perso_postal_norm);
CREATE INDEX contacts_commercial_owner
    ON contacts (commercial_owner_id, technical_owner_id,
                 perso_country, perso_postal_norm, pro_country, pro_postal_norm);
CREATE INDEX contacts_technical_owner
    ON contacts (technical_owner_id,
                 perso_country, perso_postal_norm, pro_country, pro_postal_norm);
