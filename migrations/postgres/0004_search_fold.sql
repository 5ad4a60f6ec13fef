-- relais_fold(text) folds a text for the contact search by the rule of
-- fold_for_search in src/domain/search.rs, which SQLite and the typed
-- text go through. A behaviour test compares both functions on every
-- Latin letter and on the characters each one folds.
--
-- The rule: decompose (NFD), drop the combining accents U+0300 to U+036F,
-- lower-case A to Z, then spell out ligatures, turn letters with a stroke
-- into their base letter, and turn typographic apostrophes, no-break
-- spaces and hyphens into their ASCII forms, one character at a time.
--
-- It depends on no extension, because the server may lack unaccent and
-- the application may lack the right to create one. lower() runs under
-- the "C" collation, which folds A to Z only, so the result does not
-- depend on the database locale. Pure ASCII text skips the Unicode steps,
-- which cost about ten times more. The body is one SQL expression so that
-- the planner inlines it into the query. translate() would be shorter but
-- scans its whole character list for every input character, which made
-- it several times slower than these replace calls.
CREATE FUNCTION relais_fold(value text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
SELECT CASE
    WHEN octet_length(value) = length(value) THEN lower(value COLLATE "C")
    ELSE
        replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(
            lower(regexp_replace(normalize(value, NFD), '[\u0300-\u036f]+', '', 'g') COLLATE "C"),
            U&'\0152', 'oe'),  -- latin capital ligature oe
            U&'\0153', 'oe'),  -- latin small ligature oe
            U&'\00C6', 'ae'),  -- latin capital letter ae
            U&'\00E6', 'ae'),  -- latin small letter ae
            U&'\00DF', 'ss'),  -- latin small letter sharp s
            U&'\1E9E', 'ss'),  -- latin capital letter sharp s
            U&'\00DE', 'th'),  -- latin capital letter thorn
            U&'\00FE', 'th'),  -- latin small letter thorn
            U&'\0132', 'ij'),  -- latin capital ligature ij
            U&'\0133', 'ij'),  -- latin small ligature ij
            U&'\00D8', 'o'),  -- latin capital letter o with stroke
            U&'\00F8', 'o'),  -- latin small letter o with stroke
            U&'\0141', 'l'),  -- latin capital letter l with stroke
            U&'\0142', 'l'),  -- latin small letter l with stroke
            U&'\0110', 'd'),  -- latin capital letter d with stroke
            U&'\0111', 'd'),  -- latin small letter d with stroke
            U&'\00D0', 'd'),  -- latin capital letter eth
            U&'\00F0', 'd'),  -- latin small letter eth
            U&'\0131', 'i'),  -- latin small letter dotless i
            U&'\2019', ''''),  -- right single quotation mark
            U&'\2018', ''''),  -- left single quotation mark
            U&'\02BC', ''''),  -- modifier letter apostrophe
            U&'\00A0', ' '),  -- no-break space
            U&'\202F', ' '),  -- narrow no-break space
            U&'\2010', '-'),  -- hyphen
            U&'\2011', '-')  -- non-breaking hyphen
END
$$;
