-- Brings contacts stored before two normalisation rules in line with them.
--
-- 1. The overseas départements and the collectivities that use 97xxx postal
--    codes are stored as France, so that `FRA` with the postal prefix 974
--    finds La Réunion: GLP, MTQ, GUF, REU, SPM, MYT, BLM and MAF become FRA.
--    Their normalised postal codes already followed the French rules, so
--    they stay as they are.
-- 2. A country marker before a foreign postal code (`L-1234` for
--    Luxembourg) is dropped from the normalised code when it is the
--    address's own country and a digit follows it. The marker list repeats
--    FOREIGN_POSTAL_MARKERS in src/domain/postal.rs, longest marker first
--    within a country, and a unit test checks that both agree.
--
-- One set-based statement: each address column is rewritten in place, and
-- only rows with an address in one of the listed countries are touched.
-- The postal code as entered and `updated_at` are left alone, because the
-- contact's data does not change, only its matching keys.

WITH markers (country, marker) AS (
    VALUES
        ('AUT', 'AUT'),
        ('AUT', 'AT'),
        ('AUT', 'A'),
        ('BEL', 'BEL'),
        ('BEL', 'BE'),
        ('BEL', 'B'),
        ('CHE', 'CHE'),
        ('CHE', 'CH'),
        ('CZE', 'CZE'),
        ('CZE', 'CZ'),
        ('DEU', 'DEU'),
        ('DEU', 'DE'),
        ('DEU', 'D'),
        ('DNK', 'DNK'),
        ('DNK', 'DK'),
        ('ESP', 'ESP'),
        ('ESP', 'ES'),
        ('ESP', 'E'),
        ('FIN', 'FIN'),
        ('FIN', 'FI'),
        ('FIN', 'SF'),
        ('GRC', 'GRC'),
        ('GRC', 'GR'),
        ('HUN', 'HUN'),
        ('HUN', 'HU'),
        ('HUN', 'H'),
        ('ITA', 'ITA'),
        ('ITA', 'IT'),
        ('ITA', 'I'),
        ('LIE', 'LIE'),
        ('LIE', 'LI'),
        ('LIE', 'FL'),
        ('LUX', 'LUX'),
        ('LUX', 'LU'),
        ('LUX', 'L'),
        ('MCO', 'MCO'),
        ('MCO', 'MC'),
        ('NLD', 'NLD'),
        ('NLD', 'NL'),
        ('NOR', 'NOR'),
        ('NOR', 'NO'),
        ('NOR', 'N'),
        ('POL', 'POL'),
        ('POL', 'PL'),
        ('PRT', 'PRT'),
        ('PRT', 'PT'),
        ('PRT', 'P'),
        ('SVK', 'SVK'),
        ('SVK', 'SK'),
        ('SWE', 'SWE'),
        ('SWE', 'SE'),
        ('SWE', 'S')
)
UPDATE contacts
SET
    perso_country = CASE
        WHEN perso_country IN ('GLP', 'MTQ', 'GUF', 'REU', 'SPM', 'MYT', 'BLM', 'MAF') THEN 'FRA'
        ELSE perso_country
    END,
    perso_postal_norm = coalesce(
        (SELECT substr(contacts.perso_postal_norm, length(m.marker) + 1)
         FROM markers AS m
         WHERE m.country = contacts.perso_country
           AND substr(contacts.perso_postal_norm, 1, length(m.marker)) = m.marker
           AND substr(contacts.perso_postal_norm, length(m.marker) + 1, 1) BETWEEN '0' AND '9'
         ORDER BY length(m.marker) DESC
         LIMIT 1),
        perso_postal_norm
    ),
    pro_country = CASE
        WHEN pro_country IN ('GLP', 'MTQ', 'GUF', 'REU', 'SPM', 'MYT', 'BLM', 'MAF') THEN 'FRA'
        ELSE pro_country
    END,
    pro_postal_norm = coalesce(
        (SELECT substr(contacts.pro_postal_norm, length(m.marker) + 1)
         FROM markers AS m
         WHERE m.country = contacts.pro_country
           AND substr(contacts.pro_postal_norm, 1, length(m.marker)) = m.marker
           AND substr(contacts.pro_postal_norm, length(m.marker) + 1, 1) BETWEEN '0' AND '9'
         ORDER BY length(m.marker) DESC
         LIMIT 1),
        pro_postal_norm
    )
WHERE perso_country IN ('GLP', 'MTQ', 'GUF', 'REU', 'SPM', 'MYT', 'BLM', 'MAF')
   OR pro_country IN ('GLP', 'MTQ', 'GUF', 'REU', 'SPM', 'MYT', 'BLM', 'MAF')
   OR perso_country IN (SELECT country FROM markers)
   OR pro_country IN (SELECT country FROM markers);
