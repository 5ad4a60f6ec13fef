//! The French screens, rendered on the server with askama.

pub mod batches;
pub mod contacts;
pub mod error_page;
pub mod extract;
pub mod layout;
pub mod paging;
pub mod picker;
pub mod reassign;
pub mod region;
pub mod run_result;
pub mod undo_confirm;
pub mod users;
pub mod views;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use super::auth::session::{self, AdminUser};
use super::auth::{csrf, login};
use super::error::AppError;
use super::state::AppState;
use error_page::PageError;
use layout::Layout;

/// Renders a template; a rendering failure is an internal error.
pub fn render<T: Template>(template: &T) -> Result<Html<String>, PageError> {
    template
        .render()
        .map(|html| Html(finish_html(&html)))
        .map_err(|error| AppError::Internal(format!("template rendering failed: {error}")).into())
}

/// Typesets a rendered page the French way, and shows as U+FFFD the
/// control characters a value typed into an address or a form may bring
/// (`%00`), which HTML cannot carry. Tabs and line breaks stay.
pub fn finish_html(html: &str) -> String {
    crate::french::typeset_html(html)
        .chars()
        .map(|c| {
            if c.is_control() && !matches!(c, '\t' | '\n' | '\r') {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login::show).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/contacts", get(contacts::list))
        .route("/contacts/export.csv", get(contacts::export))
        .route("/contacts/{key}", get(contacts::show))
        .route("/admin", get(admin_index))
        .route("/admin/reassign", get(reassign::show).post(reassign::apply))
        .route("/admin/reassign/preview", get(reassign::preview))
        .route(
            "/admin/reassign-region",
            get(region::show).post(region::apply),
        )
        .route("/admin/reassign-region/preview", get(region::preview))
        .route("/admin/batches", get(batches::list))
        .route("/admin/batches/{id}", get(batches::show))
        .route("/admin/batches/{id}/export.csv", get(batches::export))
        .route("/admin/batches/{id}/result", get(run_result::show))
        .route(
            "/admin/batches/{id}/undo",
            get(undo_confirm::show).post(batches::undo),
        )
        .route("/admin/users", get(users::list).post(users::create))
        .route("/admin/users/{id}/activate", post(users::activate))
        .route("/admin/users/{id}/deactivate", post(users::deactivate))
        .route("/admin/users/{id}/role", post(users::change_role))
        .route("/admin/users/tokens", post(users::create_token))
        .route("/admin/users/tokens/{id}/revoke", post(users::revoke_token))
        .method_not_allowed_fallback(method_not_allowed)
}

pub fn protect_forms(state: AppState, router: Router<AppState>) -> Router<AppState> {
    router.layer(axum::middleware::from_fn_with_state(state, csrf::protect))
}

/// `/`: the contact list once logged in, else the login page.
async fn home(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, PageError> {
    match session::load(&state, &headers).await? {
        Some(_) => Ok(Redirect::to("/contacts").into_response()),
        None => Ok(Redirect::to("/login").into_response()),
    }
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    layout: Layout,
}

/// Outils → Admin: the entry page of the administration tools.
async fn admin_index(AdminUser(session): AdminUser) -> Result<Response, PageError> {
    let page = AdminPage {
        layout: Layout::new(&session, "Admin", "admin"),
    };
    Ok(render(&page)?.into_response())
}

/// Pages asked with a method they do not take, such as `GET /logout` from
/// a bookmark, or a form sent to a page that only shows.
pub async fn method_not_allowed(method: axum::http::Method) -> Response {
    let message = if method == axum::http::Method::GET || method == axum::http::Method::HEAD {
        "Cette adresse ne s'ouvre pas directement : elle reçoit les formulaires de Relais. Revenez à la liste des contacts ; pour vous déconnecter, utilisez le bouton « Se déconnecter » en haut de la page."
    } else if method == axum::http::Method::POST {
        "Cette adresse ne reçoit pas de formulaire : elle s'ouvre directement, comme un lien. Revenez à la liste des contacts et recommencez depuis le bon écran."
    } else {
        // PUT, DELETE and the like: Relais's screens send none, and the
        // address may take a form by POST, so neither message above holds.
        "Cette adresse n'accepte pas cette méthode : les pages de Relais s'ouvrent comme des liens, et leurs formulaires s'envoient par leurs boutons. Revenez à la liste des contacts et recommencez depuis le bon écran."
    };
    error_page::error_response(&AppError::MethodNotAllowed(message))
}

/// Returns the key that a dialog's preview writes in its hidden
/// `previewed_for` field, so that « Valider » can check the preview was of
/// the parameters sent. It is a digest, because the parameters may contain
/// thousands of postal codes that would double the form's size.
pub fn params_key(params: &serde_json::Value) -> String {
    crate::service::tokens::hash_secret(&params.to_string())
}

/// Returns the response to an address no route serves: the API's JSON
/// error under `/api`, where clients of another API version expect JSON,
/// and the error page elsewhere.
pub async fn not_found(uri: axum::http::Uri) -> Response {
    let path = uri.path();
    if path == "/api" || path.starts_with("/api/") {
        return crate::web::api::error::not_found().await;
    }
    error_page::error_response(&AppError::not_found(
        "not_found",
        "Cette adresse ne correspond à aucune page de Relais ; vérifiez le lien ou revenez à la liste des contacts.",
    ))
}
