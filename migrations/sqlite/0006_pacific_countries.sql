-- Stores under their own country the addresses that were given as France
-- with a postal code of Wallis-et-Futuna (986), French Polynesia (987) or
-- New Caledonia (988). Selections name these collectivities by their own
-- code (WLF, PYF, NCL) and reject their prefixes under FRA, so such an
-- address could only be reached by a broader prefix such as 98 or *.
-- Clipperton's 98799 stays French. stored_country in src/domain/postal.rs
-- applies the same rule to new addresses.

UPDATE contacts
SET perso_country = CASE substr(perso_postal_norm, 1, 3)
        WHEN '986' THEN 'WLF'
        WHEN '987' THEN 'PYF'
        ELSE 'NCL'
    END
WHERE perso_country = 'FRA'
  AND substr(perso_postal_norm, 1, 3) IN ('986', '987', '988')
  AND substr(perso_postal_norm, 1, 5) <> '98799';

UPDATE contacts
SET pro_country = CASE substr(pro_postal_norm, 1, 3)
        WHEN '986' THEN 'WLF'
        WHEN '987' THEN 'PYF'
        ELSE 'NCL'
    END
WHERE pro_country = 'FRA'
  AND substr(pro_postal_norm, 1, 3) IN ('986', '987', '988')
  AND substr(pro_postal_norm, 1, 5) <> '98799';
