-- Owner indexes that lead with the owner and then the perso address, so
-- that a region preview counts the target's contacts with a perso address
-- in a prefix as one index range. The previous order (owner, technical
-- owner, region columns) made the preview check the region on each of the
-- target's entries for every prefix: about 50,000 entries per role at a
-- million contacts, most of a selective preview's time. Both owner
-- indexes still carry both addresses, so the contacts the target owns by
-- their pro address alone are found in one pass over the target's
-- entries, and the commercial one still carries the technical owner, for
-- contacts owned on both roles.
--
-- The region indexes hold no owner, so reassignments do not rewrite them.
-- The perso region index loses the pro columns, which no count reads from
-- it any more: the pro region index decides "pro address in the prefix,
-- perso address not".

DROP INDEX contacts_perso_region;
DROP INDEX contacts_commercial_owner;
DROP INDEX contacts_technical_owner;

CREATE INDEX contacts_perso_region
    ON contacts (perso_country, perso_postal_norm);
CREATE INDEX contacts_commercial_owner
    ON contacts (commercial_owner_id, perso_country, perso_postal_norm,
                 pro_country, pro_postal_norm, technical_owner_id);
CREATE INDEX contacts_technical_owner
    ON contacts (technical_owner_id, perso_country, perso_postal_norm,
                 pro_country, pro_postal_norm);
