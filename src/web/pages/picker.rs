//! The user picker of the reassignment dialogs: active users first, then
//! inactive ones marked « — compte désactivé ».

use askama::Template;

use crate::domain::user::User;

pub struct UserOption {
    pub value: String,
    pub label: String,
    pub selected: bool,
    pub disabled: bool,
}

#[derive(Template)]
#[template(path = "partials/user_picker.html")]
pub struct UserPicker {
    /// Form field name, also the base of the element ids.
    pub name: &'static str,
    pub label: &'static str,
    pub help: Option<&'static str>,
    pub active: Vec<UserOption>,
    pub inactive: Vec<UserOption>,
    pub error: Option<String>,
}

/// The picker is a template rendered with escaping, so its output is safe
/// to insert into the page unescaped.
impl askama::filters::HtmlSafe for UserPicker {}

impl UserPicker {
    /// Builds a picker over `users` (listed active first by the store).
    /// Inactive users are shown disabled unless `inactive_selectable`: a
    /// departing user may be inactive, a receiving one may not.
    pub fn new(
        name: &'static str,
        label: &'static str,
        users: &[User],
        selected: &str,
        inactive_selectable: bool,
    ) -> UserPicker {
        let selected = selected.trim();
        let option = |user: &User| UserOption {
            value: user.initials.clone(),
            label: if user.active {
                user.display_name()
            } else {
                format!("{} — compte désactivé", user.display_name())
            },
            selected: !selected.is_empty() && user.initials.eq_ignore_ascii_case(selected),
            disabled: !user.active && !inactive_selectable,
        };
        UserPicker {
            name,
            label,
            help: None,
            active: users
                .iter()
                .filter(|user| user.active)
                .map(option)
                .collect(),
            inactive: users
                .iter()
                .filter(|user| !user.active)
                .map(option)
                .collect(),
            error: None,
        }
    }

    pub fn with_help(mut self, help: &'static str) -> UserPicker {
        self.help = Some(help);
        self
    }

    pub fn with_error(mut self, error: Option<String>) -> UserPicker {
        self.error = error;
        self
    }
}
