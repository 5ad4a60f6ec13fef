//! The frame of every screen: title, logged-in user, navigation menu.

use crate::web::auth::session::Session;

pub struct LayoutUser {
    pub name: String,
    pub is_admin: bool,
}

pub struct Layout {
    /// Page title, shown in the tab before « — Relais ».
    pub title: String,
    pub user: Option<LayoutUser>,
    /// Token of the logout form.
    pub csrf_token: String,
    /// Menu entry of this page, marked `aria-current`: `contacts`, `admin`,
    /// `reassign`, `region`, `batches`, `users`, or empty.
    pub current: &'static str,
}

impl Layout {
    /// Frame of pages shown without a session: login and errors.
    pub fn anonymous(title: &str) -> Layout {
        Layout {
            title: title.to_string(),
            user: None,
            csrf_token: String::new(),
            current: "",
        }
    }

    pub fn new(session: &Session, title: impl Into<String>, current: &'static str) -> Layout {
        Layout {
            title: title.into(),
            user: Some(LayoutUser {
                name: session.user.display_name(),
                is_admin: session.is_admin(),
            }),
            csrf_token: session.csrf_token.clone(),
            current,
        }
    }

    pub fn is_current(&self, entry: &str) -> bool {
        self.current == entry
    }

    pub fn is_admin(&self) -> bool {
        self.user.as_ref().is_some_and(|user| user.is_admin)
    }
}
