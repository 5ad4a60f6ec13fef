//! Postal prefix ranges of a region selection, in forms whose SQL does not
//! grow with the number of prefixes. A selection may hold any number of
//! prefixes, while SQLite bounds by default a statement to 32,766
//! parameters, a compound `SELECT` to 500 terms and an expression to a
//! depth of 1,000.
//!
//! - `relais_in_ranges(value, bounds)`, a function registered on every
//!   connection, tests "the value lies in one of the ranges" by a binary
//!   search, with the bounds passed as one parameter;
//! - the ranges as one JSON parameter, which `json_each` turns into rows
//!   to join to an index, one range scan per prefix.

use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, Error};

use crate::domain::postal::PostalPrefix;

/// Name of the SQL function that tests membership in a set of ranges.
pub const IN_RANGES: &str = "relais_in_ranges";

/// Separates the bounds in the function's second argument. Bounds contain
/// ASCII uppercase letters, digits, `:` and `[` only.
const SEPARATOR: char = ',';

/// Lists the sorted bounds of a selection, low and high of each prefix in
/// turn. The parser returns prefixes sorted with none starting with
/// another, so their ranges are disjoint and in ascending order. A high
/// bound may equal the next low bound: `201` ends Corsica's `200` and
/// starts its `201`.
pub fn bounds(prefixes: &[PostalPrefix]) -> Vec<String> {
    prefixes
        .iter()
        .flat_map(|prefix| [prefix.as_str().to_string(), prefix.upper_bound()])
        .collect()
}

/// Joins the bounds by `SEPARATOR` into the function's second argument.
pub fn bounds_argument(prefixes: &[PostalPrefix]) -> String {
    bounds(prefixes).join(&SEPARATOR.to_string())
}

/// Writes the ranges as a JSON array of `[low, high]` pairs for
/// `json_each`, whose rows read `value ->> 0` and `value ->> 1`.
pub fn ranges_json(prefixes: &[PostalPrefix]) -> String {
    let pairs: Vec<[String; 2]> = prefixes
        .iter()
        .map(|prefix| [prefix.as_str().to_string(), prefix.upper_bound()])
        .collect();
    serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".to_string())
}

/// True when `value` lies in one of the ranges whose sorted bounds are
/// `bounds`: exactly when an odd number of bounds are at or below it.
pub fn in_ranges(value: &str, bounds: &[String]) -> bool {
    bounds.partition_point(|bound| bound.as_str() <= value) % 2 == 1
}

/// Registers `relais_in_ranges(value, bounds)`: 1 when the text `value`
/// lies in one of the ranges of `bounds_argument`, else 0, and 0 for a
/// NULL value. The parsed bounds are kept with the statement, so each call
/// costs one binary search.
pub fn register(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        IN_RANGES,
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| -> rusqlite::Result<bool> {
            let bounds = ctx.get_or_create_aux(1, |argument| -> Result<Vec<String>, Error> {
                let text = argument.as_str().map_err(|error| {
                    Error::UserFunctionError(format!("{IN_RANGES}: bounds: {error}").into())
                })?;
                Ok(if text.is_empty() {
                    Vec::new()
                } else {
                    text.split(SEPARATOR).map(str::to_string).collect()
                })
            })?;
            let value = ctx.get_raw(0);
            Ok(match value.as_str_or_null() {
                Ok(Some(value)) => in_ranges(value, &bounds),
                Ok(None) => false,
                Err(_) => false,
            })
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::country::CountryCode;
    use crate::domain::postal::parse_postal_field;

    fn prefixes(field: &str) -> Vec<PostalPrefix> {
        match parse_postal_field(field, &CountryCode::france()).unwrap() {
            crate::domain::postal::PostalSelection::Prefixes(prefixes) => prefixes,
            crate::domain::postal::PostalSelection::All => panic!("expected prefixes"),
        }
    }

    #[test]
    fn membership_follows_each_range() {
        let bounds = bounds(&prefixes("51;02"));
        assert_eq!(bounds, ["02", "03", "51", "52"]);
        for (value, inside) in [
            ("", false),
            ("01999", false),
            ("02", true),
            ("02100", true),
            ("02999", true),
            ("03", false),
            ("03000", false),
            ("51100", true),
            ("51Z", true),
            ("52", false),
            ("99999", false),
        ] {
            assert_eq!(in_ranges(value, &bounds), inside, "{value}");
        }
    }

    #[test]
    fn adjacent_corsican_ranges_count_once_each() {
        let bounds = bounds(&prefixes("2A"));
        assert_eq!(bounds, ["200", "201", "201", "202"]);
        assert!(in_ranges("20000", &bounds));
        assert!(in_ranges("20167", &bounds));
        assert!(!in_ranges("20200", &bounds));
        assert!(!in_ranges("19999", &bounds));
    }

    #[test]
    fn sql_function_agrees_with_the_rule() {
        let conn = Connection::open_in_memory().unwrap();
        register(&conn).unwrap();
        let selection = prefixes("2A;51;971;06");
        let argument = bounds_argument(&selection);
        let bounds = bounds(&selection);
        let mut statement = conn
            .prepare(&format!("SELECT {IN_RANGES}(?1, ?2)"))
            .unwrap();
        for value in [
            "", "06000", "20090", "20200", "51100", "97100", "97200", "07",
        ] {
            let inside: bool = statement
                .query_row(rusqlite::params![value, argument], |row| row.get(0))
                .unwrap();
            assert_eq!(inside, in_ranges(value, &bounds), "{value}");
        }
        let null: bool = statement
            .query_row(rusqlite::params![None::<String>, argument], |row| {
                row.get(0)
            })
            .unwrap();
        assert!(!null);
    }

    #[test]
    fn json_pairs_feed_json_each() {
        let conn = Connection::open_in_memory().unwrap();
        let json = ranges_json(&prefixes("51;2B"));
        let pairs: Vec<(String, String)> = conn
            .prepare("SELECT value ->> 0, value ->> 1 FROM json_each(?1) ORDER BY key")
            .unwrap()
            .query_map([json], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            pairs,
            [
                ("202".to_string(), "203".to_string()),
                ("206".to_string(), "207".to_string()),
                ("51".to_string(), "52".to_string()),
            ]
        );
    }
}
