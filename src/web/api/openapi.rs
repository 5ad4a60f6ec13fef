//! The OpenAPI 3.1 description of the API, written by hand and served at
//! `/api/v1/openapi.json`. A test checks that it lists every API route.

use axum::Json;
use serde_json::{Map, Value, json};

fn error_responses(codes: &[&str]) -> Map<String, Value> {
    let mut responses = Map::new();
    for code in codes {
        let description = match *code {
            "400" => "Requête illisible (JSON, paramètres, clé d'idempotence).",
            "401" => "Jeton d'API absent, inconnu ou révoqué.",
            "403" => "Réservé aux administrateurs.",
            "404" => "Introuvable.",
            "409" => {
                "Refusé par une règle (opération déjà annulée, clé d'idempotence réutilisée…)."
            }
            "415" => {
                "Corps non déclaré comme JSON : envoyez l'en-tête « Content-Type: application/json »."
            }
            "422" => "Saisie invalide ; `field` nomme le champ en cause.",
            _ => "Erreur.",
        };
        responses.insert(
            (*code).to_string(),
            json!({
                "description": description,
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
            }),
        );
    }
    responses
}

fn operation(summary: &str, schema: &str, errors: &[&str]) -> Value {
    let mut responses = error_responses(errors);
    responses.insert(
        "200".to_string(),
        json!({
            "description": "Succès.",
            "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } }
        }),
    );
    json!({ "summary": summary, "responses": responses })
}

fn with_body(mut operation: Value, body_schema: &str) -> Value {
    operation["requestBody"] = json!({
        "required": true,
        "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{body_schema}") } } }
    });
    operation
}

fn with_run_extras(mut operation: Value) -> Value {
    operation["parameters"] = json!([{
        "name": "Idempotency-Key",
        "in": "header",
        "required": false,
        "description": "Une seconde requête avec la même clé renvoie le résultat de la première sans rien refaire.",
        "schema": { "type": "string", "maxLength": 100 }
    }]);
    operation["responses"]["201"] = json!({
        "description": "Opération de masse enregistrée ; `Location` donne son adresse.",
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/RunResult" } } }
    });
    operation
}

fn with_parameters(mut operation: Value, parameters: Value) -> Value {
    operation["parameters"] = parameters;
    operation
}

fn id_parameter(description: &str) -> Value {
    json!({ "name": "id", "in": "path", "required": true, "description": description, "schema": { "type": "string" } })
}

fn query_parameter(name: &str, description: &str, kind: &str) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": description, "schema": { "type": kind } })
}

fn pagination() -> Vec<Value> {
    vec![
        query_parameter(
            "limit",
            "Nombre de résultats (50 par défaut, 500 au plus).",
            "integer",
        ),
        query_parameter("offset", "Résultats à sauter.", "integer"),
    ]
}

fn paths() -> Map<String, Value> {
    let admin = ["401", "403"];
    let admin_input = ["400", "401", "403", "409", "415", "422"];
    let mut paths = Map::new();
    let mut add = |path: &str, method: &str, operation: Value| {
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[method] = operation;
    };

    add(
        "/api/v1/openapi.json",
        "get",
        json!({
            "summary": "Cette description de l'API.",
            "security": [],
            "responses": { "200": { "description": "Document OpenAPI." } }
        }),
    );
    add(
        "/api/v1/me",
        "get",
        operation("Utilisateur propriétaire du jeton.", "User", &["401"]),
    );
    add(
        "/api/v1/users",
        "get",
        operation(
            "Liste des utilisateurs, actifs d'abord.",
            "UserList",
            &admin,
        ),
    );
    add(
        "/api/v1/reassignments/preview",
        "post",
        with_body(
            operation(
                "Aperçu de « Réaffecter » : rien n'est modifié.",
                "RunResult",
                &admin_input,
            ),
            "UserReassignment",
        ),
    );
    add(
        "/api/v1/reassignments",
        "post",
        with_run_extras(with_body(
            operation(
                "Réaffecter : tous les contacts de « from » passent à « to ».",
                "RunResult",
                &admin_input,
            ),
            "UserReassignment",
        )),
    );
    add(
        "/api/v1/region-reassignments/preview",
        "post",
        with_body(
            operation(
                "Aperçu de « Réaffecter par région » : rien n'est modifié.",
                "RegionPreview",
                &admin_input,
            ),
            "RegionReassignment",
        ),
    );
    add(
        "/api/v1/region-reassignments",
        "post",
        with_run_extras(with_body(
            operation("Réaffecter par région.", "RunResult", &admin_input),
            "RegionReassignment",
        )),
    );
    add(
        "/api/v1/batches",
        "get",
        with_parameters(
            operation(
                "Journal des opérations, les plus récentes d'abord.",
                "BatchList",
                &["400", "401", "403"],
            ),
            json!(pagination()),
        ),
    );
    add(
        "/api/v1/batches/{id}",
        "get",
        with_parameters(
            operation(
                "Une opération de masse.",
                "Batch",
                &["400", "401", "403", "404"],
            ),
            json!([id_parameter("Numéro de l'opération.")]),
        ),
    );
    let mut batch_contacts = pagination();
    batch_contacts.insert(0, id_parameter("Numéro de l'opération."));
    add(
        "/api/v1/batches/{id}/contacts",
        "get",
        with_parameters(
            operation(
                "Contacts dont une opération a changé un responsable et, pour une importation, contacts qu'elle a créés.",
                "ContactList",
                &["400", "401", "403", "404"],
            ),
            json!(batch_contacts),
        ),
    );
    add(
        "/api/v1/batches/{id}/undo",
        "post",
        with_parameters(
            with_run_extras(operation(
                "Annuler cette opération.",
                "UndoResult",
                &["400", "401", "403", "404", "409"],
            )),
            json!([
                id_parameter("Numéro de l'opération à annuler."),
                { "name": "Idempotency-Key", "in": "header", "required": false, "schema": { "type": "string", "maxLength": 100 } }
            ]),
        ),
    );
    add(
        "/api/v1/batches/{id}/undo/preview",
        "post",
        with_parameters(
            operation(
                "Aperçu de l'annulation de cette opération : rien n'est modifié.",
                "UndoPreview",
                &["400", "401", "403", "404", "409"],
            ),
            json!([id_parameter("Numéro de l'opération à annuler.")]),
        ),
    );
    let mut contact_filters = vec![
        query_parameter(
            "owner",
            "Initiales, identifiant ou e-mail d'un responsable (commercial ou technique).",
            "string",
        ),
        query_parameter("country", "Code pays d'une adresse (FRA, BEL…).", "string"),
        query_parameter(
            "postal",
            "Débuts de codes postaux séparés par « ; ».",
            "string",
        ),
        query_parameter(
            "departement",
            "Code de département (51, 2A, 971).",
            "string",
        ),
        query_parameter(
            "q",
            "Texte cherché dans le nom, le prénom, la société et l'e-mail, sans tenir compte des majuscules ni des accents, ou identifiant externe exact.",
            "string",
        ),
    ];
    contact_filters.extend(pagination());
    add(
        "/api/v1/contacts",
        "get",
        with_parameters(
            operation(
                "Contacts filtrés, par pages.",
                "ContactList",
                &["400", "401", "422"],
            ),
            json!(contact_filters),
        ),
    );
    add(
        "/api/v1/contacts/{id}",
        "get",
        with_parameters(
            operation("Un contact.", "Contact", &["401", "404"]),
            json!([id_parameter("Numéro du contact ou identifiant externe.")]),
        ),
    );
    add(
        "/api/v1/contacts/{id}/history",
        "get",
        with_parameters(
            operation(
                "Historique du contact, le plus récent d'abord ; le dernier élément est sa création.",
                "History",
                &["401", "404"],
            ),
            json!([id_parameter("Numéro du contact ou identifiant externe.")]),
        ),
    );
    paths
}

fn schemas() -> Value {
    let counts = json!({
        "batch_id": { "type": ["integer", "null"], "description": "Opération enregistrée ; null pour un aperçu ou quand rien n'a changé." },
        "dry_run": { "type": "boolean" },
        "replayed": { "type": "boolean", "description": "Résultat d'une requête précédente avec la même clé d'idempotence." },
        "matched": { "type": "integer", "description": "Contacts concernés." },
        "changed": { "type": "integer", "description": "Contacts réaffectés." },
        "already_owned": { "type": "integer", "description": "Contacts déjà affectés, laissés tels quels." },
        "history_entries": { "type": "integer" },
        "commercial": { "type": "integer", "description": "Contacts dont le responsable commercial change." },
        "technical": { "type": "integer", "description": "Contacts dont le responsable technique change." }
    });
    json!({
        "Error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": { "type": "string", "description": "Code stable en anglais." },
                "message": { "type": "string", "description": "Message en français." },
                "field": { "type": "string", "description": "Champ en cause." },
                "errors": {
                    "type": "array",
                    "description": "Tous les champs invalides de la requête, le champ en cause d'abord.",
                    "items": {
                        "type": "object",
                        "required": ["code", "field", "message"],
                        "properties": {
                            "code": { "type": "string" },
                            "field": { "type": "string" },
                            "message": { "type": "string" }
                        }
                    }
                },
                "request_id": { "type": "string", "description": "Identifiant de requête, aussi dans l'en-tête x-request-id." }
            }
        },
        "UserReassignment": {
            "type": "object",
            "required": ["from", "to"],
            "properties": {
                "from": { "type": "string", "description": "« de » : initiales, identifiant ou e-mail ; peut être inactif." },
                "to": { "type": "string", "description": "« vers » : utilisateur actif." }
            }
        },
        "RegionReassignment": {
            "type": "object",
            "required": ["to", "postal"],
            "properties": {
                "to": { "type": "string", "description": "Utilisateur actif à qui affecter les contacts." },
                "country": { "type": "string", "default": "FRA" },
                "postal": { "type": "string", "description": "Codes postaux ou débuts de codes séparés par « ; », ou * pour tous." },
                "role": { "type": "string", "enum": ["commercial", "technical", "both"], "default": "commercial" }
            }
        },
        "RunResult": { "type": "object", "properties": counts.clone() },
        "RegionPreview": {
            "type": "object",
            "properties": counts,
            "description": "Comptes de l'aperçu, plus per_prefix (prefix, matched ; 2A ou 2B saisi forme une seule ligne) et sample (quelques contacts concernés)."
        },
        "UndoResult": {
            "type": "object",
            "description": "Comptes de l'annulation : changed compte les contacts réaffectés à leur responsable précédent sur au moins un rôle, already_owned et skipped_contacts les contacts ignorés sur tous leurs rôles. Plus undone_batch, returns (les contacts rendus à chaque responsable, rôle par rôle : role, owner, owner_active, contacts), skipped_per_role et skipped : les entrées d'historique ignorées, une par contact et par rôle, car le responsable a changé depuis l'opération."
        },
        "UndoPreview": {
            "type": "object",
            "description": "Comptes de l'annulation si elle était lancée maintenant, comme UndoResult, dont returns (owner_active y vaut false pour un responsable désactivé depuis l'opération, et null pour des contacts rendus sans responsable) et skipped (les entrées d'historique que l'annulation ignorerait)."
        },
        "Batch": { "type": "object" },
        "BatchList": {
            "type": "object",
            "properties": {
                "total": { "type": "integer" },
                "batches": { "type": "array", "items": { "$ref": "#/components/schemas/Batch" } }
            }
        },
        "Contact": { "type": "object" },
        "ContactList": {
            "type": "object",
            "properties": {
                "total": { "type": "integer" },
                "contacts": { "type": "array", "items": { "$ref": "#/components/schemas/Contact" } }
            }
        },
        "History": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "at": { "type": "string", "format": "date-time" },
                    "id": { "type": ["integer", "null"], "description": "Absent (null) pour la création." },
                    "kind": { "type": "string", "enum": ["reassign", "reassign_region", "undo", "import", "created"], "description": "created : création du contact, par l'importation batch_id s'il y en a une." },
                    "role": { "type": ["string", "null"], "enum": ["commercial", "technical", null] },
                    "previous_owner": { "type": ["string", "null"], "description": "Initiales." },
                    "new_owner": { "type": ["string", "null"], "description": "Initiales." },
                    "batch_id": { "type": ["integer", "null"] },
                    "undoes": { "type": ["integer", "null"], "description": "Pour une annulation, l'opération annulée." },
                    "actor": { "type": ["string", "null"] },
                    "message": { "type": "string" }
                }
            }
        },
        "User": { "type": "object" },
        "UserList": { "type": "array", "items": { "$ref": "#/components/schemas/User" } }
    })
}

pub fn document() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "API de Relais",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Réaffectation des contacts entre utilisateurs. Authentification : « Authorization: Bearer JETON » (relais token create). Erreurs : {\"code\", \"message\", \"field\"}."
        },
        "security": [{ "bearer": [] }],
        "paths": paths(),
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": schemas()
        }
    })
}

pub async fn serve() -> Json<Value> {
    Json(document())
}
