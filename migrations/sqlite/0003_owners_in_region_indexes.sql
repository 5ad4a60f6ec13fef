-- Indexes that let a region preview count what the target user already
-- owns by index ranges, instead of checking the region on each of the
-- target's entries (about 50,000 per role at a million contacts, which
-- made most of a selective preview's time).
--
-- - The owner indexes lead with the owner, then the perso address, so
--   "owned and perso address in the prefix" is one range. They keep the
--   pro country for whole-country previews, and the commercial one keeps
--   the technical owner for contacts owned on both roles.
-- - The pro region index carries the perso address and both owners, so
--   "pro address in the prefix, perso address outside the selection,
--   owned" is decided while reading the pro range, which the preview reads
--   anyway for the matched count.
-- - The perso region index needs only the perso address: previews count
--   its ranges, and reassignments use it to find contacts.
--
-- An owner change now rewrites the contact's entry in the pro region index
-- as well as in its owner index. Previews run each time an administrator
-- edits a form; reassignments run once per decision.

DROP INDEX contacts_perso_region;
DROP INDEX contacts_pro_region;
DROP INDEX contacts_commercial_owner;
DROP INDEX contacts_technical_owner;

CREATE INDEX contacts_perso_region
    ON contacts (perso_country, perso_postal_norm);
CREATE INDEX contacts_pro_region
    ON contacts (pro_country, pro_postal_norm, perso_country, perso_postal_norm,
                 commercial_owner_id, technical_owner_id);
CREATE INDEX contacts_commercial_owner
    ON contacts (commercial_owner_id, perso_country, perso_postal_norm,
                 technical_owner_id, pro_country);
CREATE INDEX contacts_technical_owner
    ON contacts (technical_owner_id, perso_country, perso_postal_norm, pro_country);
