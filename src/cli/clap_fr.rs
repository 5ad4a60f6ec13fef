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

/// Says in French what a numeric option expects, from the English text of
/// clap's number parser: « 0 is not in 1..=100000 » or « invalid digit
/// found in string ». Returns an empty text for other causes.
fn expected_number(cause: &str) -> String {
    if let Some((low, high)) = cause
        .split_once(" is not in ")
        .and_then(|(_, range)| range.split_once("..="))
    {
        let french = |number: &str| {
            number
                .parse::<u64>()
                .map_or_else(|_| number.to_string(), crate::french::count)
        };
        return format!(
            " : attendu un nombre entier de {} à {}",
            french(low),
            french(high)
        );
    }
    // Relais's own value parsers explain in French.
    if cause.starts_with("attendu ") {
        return format!(" : {cause}");
    }
    if cause.contains("digit") || cause.contains("number") {
        return " : attendu un nombre entier".to_string();
    }
    String::new()
}

/// Returns an option as the user typed it: clap names an option by its
/// long name, `--to <INITIALES>`, even when the command line has its French
/// alias, `--vers`.
fn as_typed(arg: &str, command: Option<&clap::Command>, typed: &[String]) -> String {
    let (long, value_name) = arg.split_once(' ').unwrap_or((arg, ""));
    let (Some(name), Some(command)) = (long.strip_prefix("--"), command) else {
        return arg.to_string();
    };
    let is_typed = |option: &str| {
        typed
            .iter()
            .any(|word| word == option || word.starts_with(&format!("{option}=")))
    };
    if is_typed(long) {
        return arg.to_string();
    }
    let aliases = command
        .get_arguments()
        .find(|argument| argument.get_long() == Some(name))
        .and_then(|argument| argument.get_all_aliases())
        .unwrap_or_default();
    // An option not typed at all, such as a missing one, is named by its
    // French alias when the command line uses another option's alias,
    // because a user who typed `--de` looks for `--vers`, not `--to`.
    let french_typed = || {
        command.get_arguments().any(|argument| {
            argument
                .get_all_aliases()
                .unwrap_or_default()
                .iter()
                .any(|alias| is_typed(&format!("--{alias}")))
        })
    };
    let alias = aliases
        .iter()
        .find(|alias| is_typed(&format!("--{alias}")))
        .or_else(|| aliases.first().filter(|_| french_typed()));
    match alias {
        Some(alias) if value_name.is_empty() => format!("--{alias}"),
        Some(alias) => format!("--{alias} {value_name}"),
        None => arg.to_string(),
    }
}

/// Proposes the option or command clap found closest to a mistyped one
/// (`--dryrun` gives `--dry-run`), or nothing when none is close.
fn suggestion(error: &clap::Error, kind: ContextKind) -> String {
    let names: Vec<String> = match error.get(kind) {
        Some(ContextValue::String(name)) => vec![name.clone()],
        Some(ContextValue::Strings(names)) => names.clone(),
        Some(ContextValue::StyledStr(name)) => vec![name.to_string()],
        Some(ContextValue::StyledStrs(names)) => names.iter().map(ToString::to_string).collect(),
        _ => Vec::new(),
    };
    // clap lists the closest last.
    let quoted: Vec<String> = names
        .iter()
        .rev()
        .map(|name| format!("« {name} »"))
        .collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => format!(" ; vouliez-vous dire {one} ?"),
        [rest @ .., last] => format!(" ; vouliez-vous dire {} ou {last} ?", rest.join(", ")),
    }
}

/// Renders a usage error in French, with the hint to run the help of the
/// command at fault. `command` is the subcommand typed, by name, and
/// `typed` the arguments, so that options are named as typed.
pub fn message(
    error: &clap::Error,
    command: Option<(&str, &clap::Command)>,
    typed: &[String],
) -> String {
    let arg = as_typed(
        &context(error, ContextKind::InvalidArg).unwrap_or_default(),
        command.map(|(_, sub)| sub),
        typed,
    );
    let value = context(error, ContextKind::InvalidValue).unwrap_or_default();
    let text = match error.kind() {
        // A word that is not an option comes after all the arguments the
        // command takes (`undo 1 2`).
        ErrorKind::UnknownArgument if !arg.starts_with('-') => {
            format!("argument en trop : « {arg} » ; cette commande n'en attend pas autant")
        }
        ErrorKind::UnknownArgument => format!(
            "option inconnue : « {arg} »{}",
            suggestion(error, ContextKind::SuggestedArg)
        ),
        ErrorKind::InvalidSubcommand => {
            let name = context(error, ContextKind::InvalidSubcommand).unwrap_or_default();
            format!(
                "commande inconnue : « {name} »{}",
                suggestion(error, ContextKind::SuggestedSubcommand)
            )
        }
        ErrorKind::MissingRequiredArgument => {
            // A positional argument comes as `<NUMÉRO>` and is shown bare,
            // but an option keeps its value name whole: `--postal <CODES>`.
            let names: Vec<&str> = arg
                .split(", ")
                .map(|name| {
                    name.strip_prefix('<')
                        .and_then(|inner| inner.strip_suffix('>'))
                        .unwrap_or(name)
                })
                .collect();
            if arg.starts_with('<') {
                format!("argument obligatoire manquant : {}", names.join(", "))
            } else {
                format!("option obligatoire manquante : {}", names.join(", "))
            }
        }
        ErrorKind::MissingSubcommand | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            "commande manquante".to_string()
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation if value.is_empty() => {
            match arg
                .strip_prefix('<')
                .and_then(|name| name.strip_suffix('>'))
            {
                Some(name) => format!("argument {name} vide : indiquez sa valeur"),
                None => format!("valeur manquante pour {arg} : écrivez-la après l'option"),
            }
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let expected = std::error::Error::source(error)
                .map(|cause| expected_number(&cause.to_string()))
                .unwrap_or_default();
            format!("valeur « {value} » invalide pour {arg}{expected}")
        }
        ErrorKind::TooManyValues => {
            format!("trop de valeurs pour {arg}")
        }
        ErrorKind::ArgumentConflict => {
            let prior = as_typed(
                &context(error, ContextKind::PriorArg).unwrap_or_default(),
                command.map(|(_, sub)| sub),
                typed,
            );
            if prior.is_empty() || prior == arg {
                format!("option « {arg} » donnée plusieurs fois ; gardez-en une seule")
            } else {
                format!("options incompatibles : {arg} et {prior}")
            }
        }
        ErrorKind::NoEquals => format!("l'option {arg} attend « = » suivi d'une valeur"),
        _ => "arguments invalides".to_string(),
    };
    let help = match command {
        Some((command, _)) => format!("relais {command} --help"),
        None => "relais --help".to_string(),
    };
    format!("relais : {text}\nPour l'aide : {help}")
}

#[cfg(test)]
mod tests {
    use super::expected_number;

    #[test]
    fn numeric_causes_are_told_in_french() {
        assert_eq!(
            expected_number("0 is not in 1..=100000"),
            " : attendu un nombre entier de 1 à 100\u{202f}000"
        );
        assert_eq!(
            expected_number("invalid digit found in string"),
            " : attendu un nombre entier"
        );
        assert_eq!(expected_number("something else"), "");
    }
}
