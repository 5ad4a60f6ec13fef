//! Parameters of statements whose SQL is built at run time.

use postgres::types::ToSql;

/// Values bound to a statement built piece by piece: `push` stores a value
/// and returns its placeholder (`$1`, `$2`, …) to write into the SQL, so
/// that user text only ever travels as a bound value.
#[derive(Default)]
pub struct Params {
    values: Vec<Box<dyn ToSql + Sync>>,
}

impl Params {
    pub fn new() -> Params {
        Params::default()
    }

    pub fn push(&mut self, value: impl ToSql + Sync + 'static) -> String {
        self.values.push(Box::new(value));
        format!("${}", self.values.len())
    }

    pub fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.values
            .iter()
            .map(|value| value.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}
