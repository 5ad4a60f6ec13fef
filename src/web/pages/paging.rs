//! The `page` parameter of the paginated lists (contacts, journal, the
//! contacts of a batch).
//!
//! A number out of range is not an error: the list redirects to the
//! nearest page that exists, so that the address always names the page
//! shown and the page links stay coherent. Text that is not a whole number
//! is rejected with a French message, since no page can be meant by it.

use serde::Deserialize;

use crate::web::error::AppError;

#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<String>,
}

/// The page a list was asked for: `None` when `page` is absent or blank.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestedPage(Option<i64>);

impl RequestedPage {
    /// Reads `page` from the query string.
    ///
    /// # Errors
    ///
    /// 400 `invalid_page` when the value is not a whole number.
    pub fn parse(query: &PageQuery) -> Result<RequestedPage, AppError> {
        let Some(raw) = query.page.as_deref().map(str::trim) else {
            return Ok(RequestedPage(None));
        };
        if raw.is_empty() {
            return Ok(RequestedPage(None));
        }
        if let Ok(number) = raw.parse::<i64>() {
            return Ok(RequestedPage(Some(number)));
        }
        // Digits too many for an i64 still name a page past the last one.
        let digits = raw.strip_prefix('-').unwrap_or(raw);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            let saturated = if raw.starts_with('-') {
                i64::MIN
            } else {
                i64::MAX
            };
            return Ok(RequestedPage(Some(saturated)));
        }
        Err(AppError::bad_request(
            "invalid_page",
            format!(
                "Numéro de page invalide : « {} » n'est pas un nombre entier ; indiquez une page à partir de 1, par exemple page=2.",
                shorten(raw)
            ),
        ))
    }

    /// Returns the page to read before the number of pages is known: the
    /// request brought into `1..=u32::MAX`.
    pub fn first_guess(self) -> u32 {
        let number = self.0.unwrap_or(1).max(1);
        u32::try_from(number).unwrap_or(u32::MAX)
    }

    /// Returns the page that exists nearest to the request, and whether the
    /// address must change to name it. Lists always have at least one page,
    /// even when empty.
    pub fn resolve(self, pages: u32) -> (u32, bool) {
        let pages = i64::from(pages.max(1));
        match self.0 {
            None => (1, false),
            Some(number) => {
                let page = number.clamp(1, pages);
                // `page` lies in 1..=u32::MAX, so the conversion holds.
                (u32::try_from(page).unwrap_or(1), page != number)
            }
        }
    }
}

/// Returns the number of pages of `total` rows, at least one.
pub fn page_count(total: u64, page_size: u32) -> u32 {
    u32::try_from(total.div_ceil(u64::from(page_size.max(1))))
        .unwrap_or(u32::MAX)
        .max(1)
}

/// Maximum characters of a bad value quoted back in the message.
const QUOTED_CHARS: usize = 20;

fn shorten(value: &str) -> String {
    if value.chars().count() <= QUOTED_CHARS {
        value.to_string()
    } else {
        let head: String = value.chars().take(QUOTED_CHARS).collect();
        format!("{head}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn requested(value: Option<&str>) -> Result<RequestedPage, AppError> {
        RequestedPage::parse(&PageQuery {
            page: value.map(str::to_string),
        })
    }

    #[test]
    fn numbers_resolve_to_an_existing_page() {
        let cases = [
            (None, 3, (1, false)),
            (Some(""), 3, (1, false)),
            (Some("2"), 3, (2, false)),
            (Some(" 3 "), 3, (3, false)),
            (Some("9"), 3, (3, true)),
            (Some("0"), 3, (1, true)),
            (Some("-4"), 3, (1, true)),
            (Some("99999999999999999999999"), 3, (3, true)),
            (Some("1"), 0, (1, false)),
            (Some("2"), 0, (1, true)),
        ];
        for (value, pages, expected) in cases {
            let page = requested(value).expect("a number");
            assert_eq!(page.resolve(pages), expected, "page={value:?} of {pages}");
        }
    }

    #[test]
    fn first_guess_stays_in_range() {
        assert_eq!(requested(Some("0")).unwrap().first_guess(), 1);
        assert_eq!(requested(Some("12")).unwrap().first_guess(), 12);
        assert_eq!(
            requested(Some("9999999999")).unwrap().first_guess(),
            u32::MAX
        );
    }

    #[test]
    fn text_is_rejected() {
        for value in ["abc", "2.5", "1e3", "deux", "-"] {
            let error = requested(Some(value)).expect_err(value);
            assert_eq!(error.code(), "invalid_page");
        }
    }

    #[test]
    fn page_count_is_at_least_one() {
        assert_eq!(page_count(0, 50), 1);
        assert_eq!(page_count(50, 50), 1);
        assert_eq!(page_count(51, 50), 2);
    }
}
