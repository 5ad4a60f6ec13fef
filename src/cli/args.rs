//! Command-line arguments. Command and flag names are English, help text
//! is French.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

/// Help layouts written out, so that headings follow French typography
/// (a space before the colon), which clap's built-in headings do not.
const GROUP_TEMPLATE: &str = "{about-with-newline}\nUtilisation : {usage}\n\nCommandes :\n{subcommands}\n\nOptions :\n{options}{after-help}";
const HELP_TEMPLATE: &str =
    "{about-with-newline}\nUtilisation : {usage}\n\nOptions :\n{options}{after-help}";

#[derive(Debug, Parser)]
#[command(
    name = "relais",
    version,
    about = "Relais : réaffectation des contacts entre utilisateurs, prévisualisée, atomique et annulable.",
    help_template = GROUP_TEMPLATE,
    subcommand_value_name = "COMMANDE",
    disable_help_flag = true,
    disable_version_flag = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    /// Base de données : chemin d'un fichier SQLite (créé au premier usage) ou URL postgres:// ; par défaut RELAIS_DATABASE_URL, sinon ./relais.db
    #[arg(
        long,
        global = true,
        display_order = 100,
        env = "RELAIS_DATABASE_URL",
        hide_env = true,
        default_value = "./relais.db",
        hide_default_value = true,
        value_name = "CHEMIN_OU_URL"
    )]
    pub db: String,

    /// Utilisateur au nom duquel agir, par ses initiales ; par défaut RELAIS_USER, sinon le compte système est consigné
    #[arg(
        long = "as",
        global = true,
        display_order = 101,
        env = "RELAIS_USER",
        hide_env = true,
        value_name = "INITIALES"
    )]
    pub as_user: Option<String>,

    /// Afficher l'aide
    #[arg(short = 'h', long, global = true, display_order = 102, action = ArgAction::Help)]
    pub help: Option<bool>,

    /// Afficher la version
    #[arg(short = 'V', long, action = ArgAction::Version)]
    pub version: Option<bool>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Créer la base de données si besoin et appliquer les migrations
    #[command(help_template = HELP_TEMPLATE)]
    Init,

    /// Gérer les utilisateurs
    #[command(subcommand, help_template = GROUP_TEMPLATE, subcommand_value_name = "COMMANDE")]
    User(UserCommand),

    /// Importer des contacts depuis un fichier CSV (séparateur « ; », « , » ou tabulation ; UTF-8, UTF-16, Windows-1252 ou Mac OS Roman)
    #[command(help_template = HELP_TEMPLATE)]
    Import(ImportArgs),

    /// Exporter des contacts en CSV pour Excel (« ; », UTF-8 avec BOM)
    #[command(help_template = HELP_TEMPLATE)]
    Export(ExportArgs),

    /// Réaffecter : tous les contacts d'un utilisateur (commercial et technique) passent à un autre
    #[command(help_template = HELP_TEMPLATE)]
    Reassign(ReassignArgs),

    /// Réaffecter par région : les contacts ayant une adresse dans les codes postaux donnés
    #[command(name = "reassign-region", help_template = HELP_TEMPLATE)]
    ReassignRegion(ReassignRegionArgs),

    /// Afficher l'historique d'un contact (par son numéro ou son identifiant externe)
    #[command(help_template = HELP_TEMPLATE)]
    History(HistoryArgs),

    /// Lister les opérations de masse (journal des opérations)
    #[command(help_template = HELP_TEMPLATE)]
    Batches(BatchesArgs),

    /// Annuler une opération de masse
    #[command(help_template = HELP_TEMPLATE)]
    Undo(UndoArgs),

    /// Remplir la base avec des contacts de démonstration
    #[command(help_template = HELP_TEMPLATE)]
    Demo(DemoArgs),

    /// Démarrer le serveur web (écrans d'administration et API JSON)
    #[command(help_template = HELP_TEMPLATE)]
    Serve(ServeArgs),

    /// Gérer les jetons d'API
    #[command(subcommand, help_template = GROUP_TEMPLATE, subcommand_value_name = "COMMANDE")]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Créer un utilisateur
    #[command(help_template = HELP_TEMPLATE)]
    Add(UserAddArgs),
    /// Lister les utilisateurs, actifs d'abord
    #[command(help_template = HELP_TEMPLATE)]
    List(JsonFlag),
    /// Désactiver un utilisateur (il garde ses contacts et son historique)
    #[command(help_template = HELP_TEMPLATE)]
    Deactivate(UserKey),
    /// Réactiver un utilisateur
    #[command(help_template = HELP_TEMPLATE)]
    Activate(UserKey),
    /// Donner à un utilisateur le rôle administrateur (admin) ou utilisateur (user)
    #[command(help_template = HELP_TEMPLATE)]
    Role(UserRoleArgs),
    /// Définir le mot de passe d'un utilisateur (demandé au terminal si --password est absent)
    #[command(help_template = HELP_TEMPLATE)]
    Password(UserPasswordArgs),
    /// Importer des utilisateurs depuis un CSV (colonnes login, last_name, first_name, full_name, active)
    #[command(help_template = HELP_TEMPLATE)]
    Import(UserImportArgs),
}

#[derive(Debug, Args)]
pub struct JsonFlag {
    /// Sortie JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UserKey {
    /// Initiales, identifiant ou e-mail de l'utilisateur
    #[arg(value_name = "INITIALES")]
    pub user: String,
}

#[derive(Debug, Args)]
pub struct UserRoleArgs {
    /// Initiales, identifiant ou e-mail de l'utilisateur
    #[arg(value_name = "INITIALES")]
    pub user: String,
    /// Nouveau rôle : admin (administrateur) ou user (utilisateur)
    #[arg(value_name = "RÔLE")]
    pub role: String,
}

#[derive(Debug, Args)]
pub struct UserAddArgs {
    /// Initiales, uniques : lettres sans accent et chiffres (par exemple BB)
    #[arg(long, value_name = "INITIALES")]
    pub initials: String,
    /// Prénom
    #[arg(long = "first-name", value_name = "PRÉNOM")]
    pub first_name: String,
    /// Nom
    #[arg(long = "last-name", value_name = "NOM")]
    pub last_name: String,
    /// E-mail
    #[arg(
        long,
        default_value = "",
        hide_default_value = true,
        value_name = "E-MAIL"
    )]
    pub email: String,
    /// Identifiant dans le CRM d'origine, pour reconnaître le responsable à l'import
    #[arg(
        long,
        default_value = "",
        hide_default_value = true,
        value_name = "IDENTIFIANT"
    )]
    pub login: String,
    /// Donner le rôle administrateur
    #[arg(long)]
    pub admin: bool,
    /// Mot de passe de connexion (10 caractères au minimum, espaces non comptés) ; demandé au terminal s'il est absent
    #[arg(long, value_name = "MOT_DE_PASSE")]
    pub password: Option<String>,
    /// Sortie JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UserPasswordArgs {
    /// Initiales, identifiant ou e-mail de l'utilisateur
    #[arg(value_name = "INITIALES")]
    pub user: String,
    /// Nouveau mot de passe (10 caractères au minimum, espaces non comptés)
    #[arg(long, value_name = "MOT_DE_PASSE")]
    pub password: Option<String>,
}

#[derive(Debug, Args)]
pub struct UserImportArgs {
    /// Fichier CSV des utilisateurs
    #[arg(value_name = "FICHIER")]
    pub file: PathBuf,
    /// Sortie JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Fichier CSV à importer
    #[arg(value_name = "FICHIER")]
    pub file: PathBuf,
    /// Pays des adresses sans pays (code ISO) ; FRA par défaut
    #[arg(
        long = "default-country",
        default_value = "FRA",
        hide_default_value = true,
        value_name = "PAYS"
    )]
    pub default_country: String,
    /// Créer les utilisateurs inconnus cités comme responsables
    #[arg(long = "create-missing-users")]
    pub create_missing_users: bool,
    /// Sortie JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Fichier CSV à écrire ; « - » pour la sortie standard
    #[arg(value_name = "FICHIER")]
    pub file: PathBuf,
    /// Remplacer le fichier s'il existe déjà ; sans cette option, l'export refuse de l'écraser
    #[arg(long, visible_alias = "remplacer")]
    pub replace: bool,
    /// N'exporter que les contacts d'une opération de masse
    #[arg(long, value_name = "NUMÉRO")]
    pub batch: Option<String>,
    /// N'exporter que les contacts de ce responsable, commercial ou technique (initiales, identifiant ou e-mail)
    #[arg(
        long,
        visible_alias = "responsable",
        value_name = "UTILISATEUR",
        conflicts_with = "batch"
    )]
    pub owner: Option<String>,
    /// N'exporter que les contacts ayant une adresse dans ce pays
    #[arg(
        long,
        visible_alias = "pays",
        value_name = "PAYS",
        conflicts_with = "batch"
    )]
    pub country: Option<String>,
    /// N'exporter que les contacts ayant une adresse dont le code postal commence ainsi ; plusieurs débuts séparés par « ; » (par exemple « 51;02 »)
    #[arg(
        long,
        visible_alias = "codes",
        value_name = "CODES",
        conflicts_with = "batch",
        allow_hyphen_values = true
    )]
    pub postal: Option<String>,
    /// N'exporter que les contacts ayant une adresse dans ce département (code INSEE : 51, 2A, 971)
    #[arg(long, value_name = "CODE", conflicts_with = "batch")]
    pub departement: Option<String>,
    /// N'exporter que les contacts trouvés par cette recherche : nom, prénom, société, e-mail ou identifiant externe exact
    #[arg(
        long,
        visible_alias = "recherche",
        value_name = "TEXTE",
        conflicts_with = "batch"
    )]
    pub search: Option<String>,
}

impl ExportArgs {
    /// Returns the contact-list filters of the command, as the screens
    /// take them, or `None` when it has none.
    pub fn filters(&self) -> Option<crate::service::contact_query::ContactQuery> {
        let options = [
            &self.owner,
            &self.country,
            &self.postal,
            &self.departement,
            &self.search,
        ];
        if options.iter().all(|value| value.is_none()) {
            return None;
        }
        let text = |value: &Option<String>| value.clone().unwrap_or_default();
        Some(crate::service::contact_query::ContactQuery {
            owner: text(&self.owner),
            country: text(&self.country),
            postal: text(&self.postal),
            departement: text(&self.departement),
            q: text(&self.search),
        })
    }
}

#[derive(Debug, Args)]
pub struct ReassignArgs {
    /// Utilisateur qui cède ses contacts (« de »), souvent inactif
    #[arg(long, visible_alias = "de", value_name = "INITIALES")]
    pub from: String,
    /// Utilisateur qui les reçoit (« vers »), actif
    #[arg(long, visible_alias = "vers", value_name = "INITIALES")]
    pub to: String,
    /// Simulation : afficher ce qui changerait sans rien modifier
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// Clé d'idempotence : une seconde exécution avec la même clé ne refait rien
    #[arg(long = "idempotency-key", value_name = "CLÉ", value_parser = idempotency_key)]
    pub idempotency_key: Option<String>,
    /// Sortie JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReassignRegionArgs {
    /// Utilisateur à qui affecter les contacts
    #[arg(long, visible_alias = "vers", value_name = "INITIALES")]
    pub to: String,
    /// Code pays des adresses (FRA par défaut)
    #[arg(
        long,
        visible_alias = "pays",
        default_value = "FRA",
        hide_default_value = true,
        value_name = "PAYS"
    )]
    pub country: String,
    /// Codes postaux ou débuts de codes, séparés par « ; » (par exemple « 51;02 »), ou * pour tous
    #[arg(
        long,
        visible_alias = "codes",
        value_name = "CODES",
        allow_hyphen_values = true
    )]
    pub postal: String,
    /// Rôle à réaffecter : commercial (par défaut), technique ou « les deux » (technical et both sont acceptés aussi)
    #[arg(
        long,
        default_value = "commercial",
        hide_default_value = true,
        value_name = "RÔLE"
    )]
    pub role: String,
    /// Simulation : afficher ce qui changerait sans rien modifier
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// Clé d'idempotence : une seconde exécution avec la même clé ne refait rien
    #[arg(long = "idempotency-key", value_name = "CLÉ", value_parser = idempotency_key)]
    pub idempotency_key: Option<String>,
    /// Sortie JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Numéro du contact ou son identifiant externe
    #[arg(value_name = "CONTACT")]
    pub contact: String,
    /// Sortie JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BatchesArgs {
    /// Nombre d'opérations affichées, les plus récentes d'abord ; 50 par défaut
    #[arg(long, default_value_t = 50, hide_default_value = true, value_name = "NOMBRE", allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub limit: u32,
    /// Sortie JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UndoArgs {
    /// Numéro de l'opération à annuler
    #[arg(value_name = "NUMÉRO", allow_hyphen_values = true)]
    pub batch: String,
    /// Simulation : afficher ce que l'annulation ferait sans rien modifier
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// Clé d'idempotence : une seconde exécution avec la même clé ne refait rien
    #[arg(long = "idempotency-key", value_name = "CLÉ", value_parser = idempotency_key)]
    pub idempotency_key: Option<String>,
    /// Sortie JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Nombre de contacts à créer ; 20 000 par défaut
    #[arg(long, default_value_t = 20_000, hide_default_value = true, value_name = "NOMBRE", allow_negative_numbers = true, value_parser = clap::value_parser!(u64).range(1..=50_000_000))]
    pub contacts: u64,
    /// Sortie JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Créer un jeton d'API pour un utilisateur ; le jeton est affiché seul sur la dernière ligne
    #[command(help_template = HELP_TEMPLATE)]
    Create(TokenCreateArgs),
    /// Lister les jetons d'API, les plus récents d'abord, sans jamais afficher leur secret
    #[command(help_template = HELP_TEMPLATE)]
    List(TokenListArgs),
    /// Révoquer un jeton d'API : l'API le refuse définitivement
    #[command(help_template = HELP_TEMPLATE)]
    Revoke(TokenRevokeArgs),
}

#[derive(Debug, Args)]
pub struct TokenListArgs {
    /// N'afficher que les jetons de cet utilisateur (initiales, identifiant ou e-mail)
    #[arg(long, value_name = "INITIALES")]
    pub user: Option<String>,
    /// Sortie JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TokenRevokeArgs {
    /// Numéro du jeton, donné par « relais token list »
    #[arg(value_name = "NUMÉRO", allow_hyphen_values = true)]
    pub token: String,
    /// Sortie JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// Initiales de l'utilisateur propriétaire du jeton
    #[arg(long, value_name = "INITIALES")]
    pub user: String,
    /// Libellé du jeton, pour le reconnaître
    #[arg(
        long,
        default_value = "ligne de commande",
        hide_default_value = true,
        value_name = "LIBELLÉ"
    )]
    pub label: String,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Adresse et port d'écoute ; 127.0.0.1:8080 par défaut
    #[arg(
        long,
        default_value = "127.0.0.1:8080",
        hide_default_value = true,
        value_name = "ADRESSE:PORT"
    )]
    pub bind: String,
    /// Remplir d'abord une base vide avec 20 000 contacts de démonstration, et afficher l'administrateur de démonstration
    #[arg(long)]
    pub demo: bool,
    /// Marquer les cookies « Secure » : à activer derrière un proxy HTTPS, sinon le navigateur les refuse
    #[arg(long = "secure-cookies")]
    pub secure_cookies: bool,
    /// Prendre l'adresse du client dans l'en-tête X-Forwarded-For que pose le proxy : à activer derrière un proxy, si le serveur n'est joignable que par lui
    #[arg(long = "behind-proxy")]
    pub behind_proxy: bool,
}

/// Reads `--idempotency-key`: 1 to 100 visible ASCII characters, as the
/// API's header takes. The key is scoped as `cli:KEY`, so that it never
/// meets a key of the web or the API, which are scoped to their user.
fn idempotency_key(text: &str) -> Result<String, String> {
    use crate::service::reassign::MAX_IDEMPOTENCY_KEY_LEN;
    let key = text.trim();
    let valid = !key.is_empty()
        && key.len() <= MAX_IDEMPOTENCY_KEY_LEN
        && key.bytes().all(|b| b.is_ascii_graphic());
    if !valid {
        return Err(format!(
            "attendu de 1 à {MAX_IDEMPOTENCY_KEY_LEN} caractères ASCII visibles, sans espace ni accent, par exemple un UUID"
        ));
    }
    Ok(format!("cli:{key}"))
}
