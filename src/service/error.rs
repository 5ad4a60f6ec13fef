//! The error every service operation returns.

use crate::storage::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Bad input. `field` names the form field or CLI flag, and `message`
    /// is French and gives the value and the fix.
    #[error("{message}")]
    Invalid {
        code: &'static str,
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ServiceError {
    pub fn invalid(
        code: &'static str,
        field: &'static str,
        message: impl Into<String>,
    ) -> ServiceError {
        ServiceError::Invalid {
            code,
            field,
            message: message.into(),
        }
    }

    /// Builds the error for a file that cannot be read, with the reason a
    /// user can act on.
    pub fn file_unreadable(path: &std::path::Path, error: &std::io::Error) -> ServiceError {
        ServiceError::invalid(
            "file_unreadable",
            "file",
            format!(
                "fichier « {} » illisible : {}",
                path.display(),
                crate::french::io_reason(error)
            ),
        )
    }

    /// Stable English code for the API and scripts.
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::Invalid { code, .. } => code,
            ServiceError::Store(error) => error.code(),
        }
    }

    /// Returns the input field at fault, for showing the message next to it.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            ServiceError::Invalid { field, .. } => Some(field),
            ServiceError::Store(_) => None,
        }
    }

    /// True for errors caused by the request rather than by the system.
    pub fn is_client_error(&self) -> bool {
        !matches!(
            self,
            ServiceError::Store(StoreError::Database(_)) | ServiceError::Store(StoreError::Busy)
        )
    }
}
