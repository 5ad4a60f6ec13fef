//! French messages for command-line usage errors. clap writes its own in
//! English; users of Relais read French.

use clap::error::{ContextKind, ContextValue, ErrorKind};

fn context(error: &clap::Error, kind: ContextKind) -> Option<String> {
    error.get(kind).map(|value| match value {
        ContextValue::String(text) => text.clone(),
        ContextValue::Strings(items) => items.join(", "),
        ContextValue::StyledStr(text) => text.to_string(),
        ContextValue::StyledStrs(items) => items
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        ContextValue::Number(n) => n.to_string(),
        ContextValue::Bool(b) => b.to_string(),
        ContextValue::None => String::new(),
        _ => String::new(),
    })
}

/// Renders a usage error in French, with the hint to run `--help`.
pub fn message(error: &clap::Error) -> String {
    let arg = context(error, ContextKind::InvalidArg).unwrap_or_default();
    let value = context(error, ContextKind::InvalidValue).unwrap_or_default();
    let text = match error.kind() {
        ErrorKind::UnknownArgument => format!("option inconnue : « {arg} »"),
        ErrorKind::InvalidSubcommand => format!("commande inconnue : « {arg} »"),
        ErrorKind::MissingRequiredArgument => format!("option obligatoire manquante : {arg}"),
        ErrorKind::MissingSubcommand | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            "commande manquante".to_string()
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            format!("valeur « {value} » invalide pour {arg}")
        }
        ErrorKind::TooManyValues => {
            format!("trop de valeurs pour {arg}")
        }
        ErrorKind::ArgumentConflict => format!("options incompatibles : {arg}"),
        ErrorKind::NoEquals => format!("l'option {arg} attend « = » suivi d'une valeur"),
        _ => "arguments invalides".to_string(),
    };
    format!("relais : {text}\nPour l'aide : relais --help")
}
