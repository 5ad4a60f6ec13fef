//! Outils → Admin → Utilisateurs: the list, creation with a password,
//! deactivation and reactivation, and API tokens: created and shown once,
//! listed without their secret, revoked.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::domain::history::format_paris_time;
use crate::domain::user::{User, UserId, UserRole};
use crate::service::ServiceError;
use crate::service::tokens::{
    NewToken, create_form_api_token, list_api_tokens, parse_token_id, revoke_api_token,
};
use crate::service::users::{
    MIN_PASSWORD_CHARS, UserForm, add_user, set_active, user_form_problems,
};
use crate::storage::ApiToken;
use crate::storage::Store;
use crate::web::auth::cookies;
use crate::web::auth::session::{AdminUser, Session};
use crate::web::error::AppError;
use crate::web::idempotency::scoped_idempotency_key;
use crate::web::state::AppState;

use super::error_page::PageError;
use super::extract::FormData;
use super::layout::Layout;
use super::reassign::FieldErrors;
use super::render;

pub struct UserRow {
    pub id: UserId,
    pub name: String,
    pub initials: String,
    pub email: String,
    pub login: String,
    pub is_admin: bool,
    pub active: bool,
    pub is_self: bool,
}

/// One API token of the list. The secret is never shown again.
pub struct TokenRow {
    pub id: i64,
    pub user_name: String,
    /// « de » and the user's name, elided before a vowel.
    pub of_user: String,
    pub label: String,
    pub created_at: String,
    pub last_used_at: String,
    /// Time of revocation, `None` while the token works.
    pub revoked_at: Option<String>,
}

impl TokenRow {
    fn new(token: &ApiToken) -> TokenRow {
        TokenRow {
            id: token.id,
            user_name: token.user.display_name(),
            of_user: crate::french::de(&token.user.display_name()),
            label: token.label.clone(),
            created_at: format_paris_time(token.created_at),
            last_used_at: token
                .last_used_at
                .map(format_paris_time)
                .unwrap_or_else(|| "jamais".to_string()),
            revoked_at: token
                .revoked_at
                .map(crate::domain::history::format_paris_moment),
        }
    }
}

/// The creation form as typed, kept to refill it after an error.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    initials: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    login: String,
    admin: Option<String>,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

/// One text field of the creation form.
pub struct FormField {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: &'static str,
    pub value: String,
    pub autocomplete: &'static str,
    pub help: Option<String>,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    layout: Layout,
    notice: Option<String>,
    rows: Vec<UserRow>,
    tokens: Vec<TokenRow>,
    fields: Vec<FormField>,
    admin_checked: bool,
    form_error: Option<String>,
    /// Sentence at the top of the page announcing that a form further
    /// down was refused, so that the refusal is seen at once.
    error_summary: Option<String>,
    /// Token form as typed, refilled after an error.
    token_user: String,
    token_label: String,
    token_user_error: Option<String>,
    token_label_error: Option<String>,
    /// Fresh value of the token form's `submission` field.
    token_submission: String,
}

/// Builds the creation form's fields, refilled with what was typed except
/// the passwords.
fn form_fields(form: &CreateForm, mut errors: FieldErrors) -> Vec<FormField> {
    let specs: [(&'static str, &'static str, &'static str, &str, &'static str); 7] = [
        ("initials", "Initiales", "text", &form.initials, "off"),
        (
            "first_name",
            "Prénom",
            "text",
            &form.first_name,
            "given-name",
        ),
        ("last_name", "Nom", "text", &form.last_name, "family-name"),
        (
            "email",
            "E-mail (facultatif)",
            "email",
            &form.email,
            "email",
        ),
        (
            "login",
            "Identifiant dans le CRM (facultatif)",
            "text",
            &form.login,
            "off",
        ),
        ("password", "Mot de passe", "password", "", "new-password"),
        (
            "password_confirm",
            "Confirmation du mot de passe",
            "password",
            "",
            "new-password",
        ),
    ];
    specs
        .into_iter()
        .map(|(name, label, kind, value, autocomplete)| FormField {
            name,
            label,
            kind,
            value: value.to_string(),
            autocomplete,
            help: match name {
                "initials" => {
                    Some("De 1 à 12 lettres ou chiffres, uniques, par exemple BB.".to_string())
                }
                "password" => Some(format!(
                    "{MIN_PASSWORD_CHARS} caractères au minimum, espaces non comptés."
                )),
                _ => None,
            },
            error: errors.remove(name),
        })
        .collect()
}

/// Cookie that carries the confirmation of a change on the users page
/// across the redirect that follows it. A link cannot set it, so a crafted
/// address cannot show a confirmation.
const NOTICE_COOKIE: &str = "relais_users_notice";

/// The change a confirmation is about: `created.QT`, `activated.QT`,
/// `deactivated.QT` or `token_revoked.5`, as the notice cookie stores it.
pub struct NoticeQuery {
    done: Option<String>,
    user: Option<String>,
    token: Option<String>,
}

impl NoticeQuery {
    fn from_cookie(value: &str) -> NoticeQuery {
        let (done, subject) = value.split_once('.').unwrap_or((value, ""));
        let subject = Some(subject.to_string());
        let (user, token) = if done.starts_with("token_") {
            (None, subject)
        } else {
            (subject, None)
        };
        NoticeQuery {
            done: Some(done.to_string()),
            user,
            token,
        }
    }
}

/// Redirects to the users page with the confirmation of `done` about
/// `subject` (initials or token number) in the notice cookie.
fn redirect_with_notice(state: &AppState, done: &str, subject: &str) -> Response {
    let mut response = Redirect::to("/admin/users").into_response();
    if let Some(cookie) = cookies::set(
        NOTICE_COOKIE,
        &format!("{done}.{subject}"),
        "/admin/users",
        60,
        state.config.secure_cookies,
    ) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// Builds the confirmation sentence of a change, from a fixed list. The
/// user or token must exist and be in the state the sentence announces,
/// so that a stale notice never confirms something that is not true.
fn notice(query: &NoticeQuery, users: &[User], tokens: &[ApiToken]) -> Option<String> {
    let user = query.user.as_deref().and_then(|initials| {
        users
            .iter()
            .find(|user| user.initials.eq_ignore_ascii_case(initials))
    });
    let text = match query.done.as_deref()? {
        "created" => format!("Utilisateur {} créé.", user?.display_name()),
        "activated" if user?.active => {
            format!("Utilisateur {} réactivé.", user?.display_name())
        }
        "deactivated" if !user?.active => format!(
            "Utilisateur {} désactivé : ses contacts et son historique sont conservés ; ses jetons d'API sont révoqués définitivement.",
            user?.display_name()
        ),
        "promoted" if user?.role == UserRole::Admin && user?.active => format!(
            "{} a désormais le rôle administrateur : le menu Admin lui est ouvert.",
            user?.display_name()
        ),
        "promoted" if user?.role == UserRole::Admin => format!(
            "{} a désormais le rôle administrateur ; son compte reste désactivé : réactivez-le pour lui ouvrir le menu Admin.",
            user?.display_name()
        ),
        "demoted" if user?.role == UserRole::User => format!(
            "{} a désormais le rôle utilisateur : le menu Admin lui est fermé.",
            user?.display_name()
        ),
        "token_revoked" => {
            let id: i64 = query.token.as_deref()?.parse().ok()?;
            tokens
                .iter()
                .find(|token| token.id == id && token.revoked_at.is_some())?;
            format!("Jeton n° {id} révoqué : l'API le refuse désormais.")
        }
        "token_sent_twice" => {
            let id: i64 = query.token.as_deref()?.parse().ok()?;
            tokens.iter().find(|token| token.id == id)?;
            format!(
                "Ce formulaire avait déjà créé le jeton n° {id}, et il n'en a pas créé d'autre. Le secret d'un jeton n'est affiché qu'une fois : s'il ne vous est pas parvenu, révoquez le jeton n° {id} et créez-en un nouveau."
            )
        }
        _ => return None,
    };
    Some(text)
}

fn rows(users: &[User], session: &Session) -> Vec<UserRow> {
    users
        .iter()
        .map(|user| UserRow {
            id: user.id,
            name: user.display_name(),
            initials: user.initials.clone(),
            email: user.email.clone().unwrap_or_default(),
            login: user.login.clone().unwrap_or_default(),
            is_admin: user.role == UserRole::Admin,
            active: user.active,
            is_self: user.id == session.user.id,
        })
        .collect()
}

/// Values of a refused form sent back to the users page, refilled, and
/// the problems to show next to them.
#[derive(Default)]
struct Refill {
    form: CreateForm,
    errors: FieldErrors,
    form_error: Option<String>,
    token: TokenForm,
    token_errors: FieldErrors,
}

async fn users_page(
    state: &AppState,
    session: &Session,
    status: StatusCode,
    refill: Refill,
    notice_query: Option<&NoticeQuery>,
) -> Result<Response, PageError> {
    let Refill {
        form,
        errors,
        form_error,
        token,
        mut token_errors,
    } = refill;
    let (users, tokens) = state
        .run(|store| Ok((store.list_users()?, list_api_tokens(store, None)?)))
        .await?;
    let fields = form_fields(&form, errors);
    let invalid = fields.iter().filter(|field| field.error.is_some()).count() as u64;
    let error_summary = (invalid > 0 || form_error.is_some()).then(|| {
        let count = if invalid > 0 {
            format!(
                " : {} à corriger",
                crate::french::plural(invalid, "champ", "champs")
            )
        } else {
            String::new()
        };
        format!(
            "L'utilisateur n'a pas été créé{count}. Le formulaire « Créer un utilisateur », plus bas, indique quoi faire."
        )
    });
    let token_user_error = token_errors.remove("user");
    let token_label_error = token_errors.remove("label");
    let error_summary = error_summary.or_else(|| {
        (token_user_error.is_some() || token_label_error.is_some()).then(|| {
            "Le jeton d'API n'a pas été créé. Le formulaire « Créer un jeton d'API », plus bas, indique quoi faire.".to_string()
        })
    });
    let page = UsersPage {
        layout: Layout::new(session, "Utilisateurs", "users"),
        notice: notice_query.and_then(|query| notice(query, &users, &tokens)),
        rows: rows(&users, session),
        tokens: tokens.iter().map(TokenRow::new).collect(),
        fields,
        admin_checked: form.admin.is_some(),
        form_error,
        error_summary,
        token_user: token.user.trim().to_string(),
        token_label: token.label,
        token_user_error,
        token_label_error,
        token_submission: crate::web::idempotency::new_form_key(),
    };
    Ok((status, render(&page)?).into_response())
}

pub async fn list(
    State(state): State<AppState>,
    AdminUser(session): AdminUser,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let form = CreateForm::default();
    let notice =
        cookies::read(&headers, NOTICE_COOKIE).map(|value| NoticeQuery::from_cookie(&value));
    let mut response = users_page(
        &state,
        &session,
        StatusCode::OK,
        Refill {
            form,
            ..Refill::default()
        },
        notice.as_ref(),
    )
    .await?;
    // The confirmation is shown once.
    if notice.is_some()
        && let Some(cookie) = cookies::set(
            NOTICE_COOKIE,
            "",
            "/admin/users",
            0,
            state.config.secure_cookies,
        )
    {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

pub async fn create(
    State(state): State<AppState>,
    AdminUser(session): AdminUser,
    FormData(form): FormData<CreateForm>,
) -> Result<Response, PageError> {
    let user_form = UserForm {
        initials: form.initials.clone(),
        first_name: form.first_name.clone(),
        last_name: form.last_name.clone(),
        email: form.email.clone(),
        login: form.login.clone(),
        admin: form.admin.is_some(),
        password: Some(form.password.clone()),
    };
    // Every field is checked before anything is written, so that each
    // problem shows next to its field at once.
    let mut errors = FieldErrors::new();
    if form.password != form.password_confirm {
        errors.insert(
            "password_confirm",
            "confirmation : les deux mots de passe diffèrent ; saisissez-les à nouveau".to_string(),
        );
    }
    let checked = user_form.clone();
    let problems = state
        .run(move |store| user_form_problems(store, &checked).map_err(AppError::from))
        .await?;
    for (field, message) in problems {
        errors.entry(field).or_insert(message);
    }
    if !errors.is_empty() {
        return users_page(
            &state,
            &session,
            StatusCode::UNPROCESSABLE_ENTITY,
            Refill {
                form,
                errors,
                ..Refill::default()
            },
            None,
        )
        .await;
    }
    let created = state
        .run(move |store| match add_user(store, &user_form) {
            Ok(user) => Ok(Ok(user)),
            Err(error) if error.is_client_error() => Ok(Err(error)),
            Err(error) => Err(error.into()),
        })
        .await?;

    match created {
        Ok(user) => Ok(redirect_with_notice(&state, "created", &user.initials)),
        Err(error) => {
            let mut errors = FieldErrors::new();
            let mut form_error = None;
            match error.field() {
                Some(field) => {
                    errors.insert(field, error.to_string());
                }
                None => form_error = Some(error.to_string()),
            }
            users_page(
                &state,
                &session,
                StatusCode::UNPROCESSABLE_ENTITY,
                Refill {
                    form,
                    errors,
                    form_error,
                    ..Refill::default()
                },
                None,
            )
            .await
        }
    }
}

fn find_by_id(store: &dyn Store, id: UserId) -> Result<User, AppError> {
    store
        .user_by_id(id)?
        .ok_or_else(|| AppError::not_found("unknown_user", format!("Aucun utilisateur n° {id}.")))
}

async fn change_active(
    state: &AppState,
    session: &Session,
    id: &str,
    active: bool,
) -> Result<Response, PageError> {
    let id: UserId = id
        .parse()
        .map_err(|_| AppError::not_found("unknown_user", format!("Aucun utilisateur n° {id}.")))?;
    if !active && id == session.user.id {
        return Err(AppError::Service(ServiceError::invalid(
            "self_deactivation",
            "user",
            "utilisateur : vous ne pouvez pas désactiver votre propre compte ; demandez-le à un autre administrateur",
        ))
        .into());
    }
    let user = state
        .run(move |store| {
            let user = find_by_id(store, id)?;
            Ok(set_active(store, &user.initials, active)?)
        })
        .await?;
    let done = if active { "activated" } else { "deactivated" };
    Ok(redirect_with_notice(state, done, &user.initials))
}

pub async fn activate(
    State(state): State<AppState>,
    AdminUser(session): AdminUser,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    change_active(&state, &session, &id, true).await
}

pub async fn deactivate(
    State(state): State<AppState>,
    AdminUser(session): AdminUser,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    change_active(&state, &session, &id, false).await
}

#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    role: String,
}

/// Gives a user the administrator or user role. An administrator does not
/// change their own role, as they cannot deactivate their own account.
pub async fn change_role(
    State(state): State<AppState>,
    AdminUser(session): AdminUser,
    Path(id): Path<String>,
    FormData(form): FormData<RoleForm>,
) -> Result<Response, PageError> {
    let id: UserId = id
        .parse()
        .map_err(|_| AppError::not_found("unknown_user", format!("Aucun utilisateur n° {id}.")))?;
    let role = crate::service::users::parse_role(&form.role).map_err(AppError::Service)?;
    if id == session.user.id {
        return Err(AppError::Service(ServiceError::invalid(
            "self_role_change",
            "role",
            "rôle : vous ne pouvez pas changer votre propre rôle ; demandez-le à un autre administrateur",
        ))
        .into());
    }
    let user = state
        .run(move |store| {
            let user = find_by_id(store, id)?;
            Ok(crate::service::users::set_role(
                store,
                &user.initials,
                role,
            )?)
        })
        .await?;
    let done = match role {
        UserRole::Admin => "promoted",
        UserRole::User => "demoted",
    };
    Ok(redirect_with_notice(&state, done, &user.initials))
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct TokenForm {
    /// Initials of the token's user.
    #[serde(default)]
    user: String,
    #[serde(default)]
    label: String,
    /// Random value of the page that showed the form: a second sending of
    /// the same form creates no second token.
    #[serde(default)]
    submission: String,
}

#[derive(Template)]
#[template(path = "token_created.html")]
struct TokenPage {
    layout: Layout,
    user_name: String,
    label: String,
    token: String,
}

/// Creates an API token and shows it once; only its hash is stored. An
/// unknown or deactivated user, or a label too long, sends the users page
/// back with the error next to its field.
pub async fn create_token(
    State(state): State<AppState>,
    AdminUser(session): AdminUser,
    FormData(form): FormData<TokenForm>,
) -> Result<Response, PageError> {
    let label = match form.label.trim() {
        "" => "écran Utilisateurs".to_string(),
        label => label.to_string(),
    };
    let token_label = label.clone();
    let user_key = form.user.clone();
    // Key shared by every sending of the same page's form, checked as an
    // idempotency key is: short visible ASCII.
    let submission = match form.submission.trim() {
        "" => None,
        value => Some(scoped_idempotency_key(session.user.id, value)?),
    };
    let created = state
        .run(move |store| create_token_for(store, &user_key, &token_label, submission.as_deref()))
        .await?;
    let (user, token) = match created {
        Ok((_, NewToken::SentBefore(id))) => {
            return Ok(redirect_with_notice(
                &state,
                "token_sent_twice",
                &id.to_string(),
            ));
        }
        Ok((user, NewToken::Created { secret, .. })) => (user, secret),
        Err(token_errors) => {
            return users_page(
                &state,
                &session,
                StatusCode::UNPROCESSABLE_ENTITY,
                Refill {
                    token: form,
                    token_errors,
                    ..Refill::default()
                },
                None,
            )
            .await;
        }
    };
    let page = TokenPage {
        layout: Layout::new(&session, "Jeton d'API créé", "users"),
        user_name: user.display_name(),
        label,
        token,
    };
    Ok(render(&page)?.into_response())
}

/// A token request's outcome with its user, or the errors of the token
/// form.
type TokenCreation = Result<(User, NewToken), FieldErrors>;

/// Creates the token a form requests, or returns the form's errors.
fn create_token_for(
    store: &dyn Store,
    user_key: &str,
    label: &str,
    submission: Option<&str>,
) -> Result<TokenCreation, AppError> {
    let Some(user) = store.find_user(user_key)? else {
        let message = if user_key.trim().is_empty() {
            "utilisateur : choisissez l'utilisateur au nom duquel le jeton agira".to_string()
        } else {
            format!(
                "utilisateur : aucun utilisateur « {} » ; choisissez-le dans la liste",
                user_key.trim()
            )
        };
        return Ok(Err(FieldErrors::from([("user", message)])));
    };
    match create_form_api_token(store, &user, label, submission) {
        Ok(token) => Ok(Ok((user, token))),
        Err(error) if error.is_client_error() => {
            let (field, message) = super::reassign::field_error(error)?;
            Ok(Err(FieldErrors::from([(field, message)])))
        }
        Err(error) => Err(error.into()),
    }
}

/// Revokes an API token, then returns to the users page with a notice. An
/// unknown or already revoked token gets an error page naming it.
pub async fn revoke_token(
    State(state): State<AppState>,
    AdminUser(_session): AdminUser,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let id = parse_token_id(&id).map_err(AppError::from)?;
    let token = state
        .run(move |store| Ok(revoke_api_token(store, id)?))
        .await?;
    Ok(redirect_with_notice(
        &state,
        "token_revoked",
        &token.id.to_string(),
    ))
}
