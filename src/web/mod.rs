//! The web application: French admin screens and the JSON API.

use std::sync::Arc;

use crate::service::ServiceError;
use crate::storage::Store;

/// Serves the web application on `bind` until the process is stopped.
pub fn serve(_store: Arc<dyn Store>, bind: &str) -> Result<(), ServiceError> {
    Err(ServiceError::invalid(
        "not_available",
        "bind",
        format!("serveur web : pas encore disponible ({bind})"),
    ))
}
