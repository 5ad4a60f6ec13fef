//! Form and query-string extractors of the screens, whose rejections are
//! French error pages rather than axum's English plain text.

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error_page::PageError;
use crate::web::error::AppError;

/// A URL-encoded form body.
pub struct FormData<T>(pub T);

impl<T, S> FromRequest<S> for FormData<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = PageError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Form::<T>::from_request(request, state).await {
            Ok(Form(value)) => Ok(FormData(value)),
            Err(rejection) => {
                let rejection: FormRejection = rejection;
                tracing::debug!(error = %rejection, "unreadable form");
                Err(AppError::bad_request(
                    "invalid_form",
                    "Formulaire illisible : rechargez la page et recommencez.",
                )
                .into())
            }
        }
    }
}

/// The query string of a page.
pub struct QueryData<T>(pub T);

impl<T, S> FromRequestParts<S> for QueryData<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(QueryData(value)),
            Err(rejection) => {
                let rejection: QueryRejection = rejection;
                tracing::debug!(error = %rejection, "unreadable query string");
                Err(AppError::bad_request(
                    "invalid_query",
                    "Adresse invalide : les paramètres après « ? » sont illisibles ; revenez à la page précédente.",
                )
                .into())
            }
        }
    }
}
