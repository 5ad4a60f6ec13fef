use std::collections::{BTreeSet, HashMap, HashSet};

use super::communes::derived_postal_prefixes;
use super::*;

#[test]
fn departements_parse_every_row() {
    assert_eq!(departements().len(), 109);
    let codes: HashSet<&str> = departements().iter().map(|d| d.code).collect();
    assert_eq!(codes.len(), 109, "département codes are unique");
    assert!(!codes.contains("20"), "Corsica has no département 20");
}

#[test]
fn departement_lookup_by_code() {
    let cases = [
        ("51", Some(("Marne", "Grand Est"))),
        ("02", Some(("Aisne", "Hauts-de-France"))),
        ("2A", Some(("Corse-du-Sud", "Corse"))),
        ("2a", Some(("Corse-du-Sud", "Corse"))),
        ("2B", Some(("Haute-Corse", "Corse"))),
        (" 971 ", Some(("Guadeloupe", "Guadeloupe"))),
        ("976", Some(("Mayotte", "Mayotte"))),
        ("20", None),
        ("2", None),
        ("510", None),
        ("", None),
    ];
    for (code, expected) in cases {
        let found = departement(code).map(|d| (d.name, d.region_name));
        assert_eq!(found, expected, "departement({code:?})");
    }
}

#[test]
fn departement_fields_parsed() {
    let marne = departement("51").expect("Marne is listed");
    assert_eq!(marne.region_code, "44");
    assert_eq!(marne.zone, Zone::Metropolitan);
    assert_eq!(marne.chef_lieu_insee, "51108");
    assert!(marne.in_svg_map);
    assert_eq!(marne.postal_prefixes.first(), Some(&"510"));

    let guadeloupe = departement("971").expect("Guadeloupe is listed");
    assert_eq!(guadeloupe.zone, Zone::OverseasDepartement);
    assert!(!guadeloupe.in_svg_map);

    let taaf = departement("984").expect("the TAAF are listed");
    assert_eq!(taaf.zone, Zone::OverseasCollectivity);
    assert!(
        taaf.postal_prefixes.is_empty(),
        "the TAAF have no postal code"
    );
}

#[test]
fn departement_prefixes_match_communes() {
    for departement in departements() {
        assert_eq!(
            departement.postal_prefixes,
            derived_postal_prefixes(departement.code),
            "postal prefixes of {}",
            departement.code
        );
    }
}

#[test]
fn departement_commune_counts_match() {
    // Arrondissements count as their city, as in the INSEE count.
    let mut cities: HashMap<&str, HashSet<&str>> = HashMap::new();
    for commune in communes() {
        let city = commune.parent_insee.unwrap_or(commune.insee);
        cities
            .entry(commune.departement_code)
            .or_default()
            .insert(city);
    }
    for departement in departements() {
        let found = cities.get(departement.code).map_or(0, HashSet::len);
        let expected = if departement.code == "984" {
            0 // the TAAF communes have no postal code, so no row
        } else {
            departement.commune_count as usize
        };
        assert_eq!(found, expected, "communes of {}", departement.code);
    }
}

#[test]
fn corsica_prefixes_exact() {
    assert_eq!(
        corsica_postal_prefixes("2A"),
        Some(vec!["200".to_string(), "201".to_string()])
    );
    assert_eq!(
        corsica_postal_prefixes("2B"),
        Some(vec!["202".to_string(), "206".to_string()])
    );
    assert_eq!(
        corsica_postal_prefixes("2b"),
        Some(vec!["202".to_string(), "206".to_string()])
    );
    assert_eq!(corsica_postal_prefixes("20"), None);
    assert_eq!(corsica_postal_prefixes("51"), None);
    assert_eq!(corsica_postal_prefixes(""), None);
}

#[test]
fn postal_code_exists_cases() {
    let cases = [
        ("51100", true),
        ("02100", true),
        ("75116", true),
        ("20000", true),
        ("97133", true),
        ("98799", true),
        ("52100", true),
        ("00000", false),
        ("20300", false),
        ("98000", false), // Monaco is a country of its own
        ("5110", false),
        ("2100", false),
        ("051100", false),
        (" 51100", false),
        ("", false),
    ];
    for (code, expected) in cases {
        assert_eq!(
            postal_code_exists(code),
            expected,
            "postal_code_exists({code:?})"
        );
    }
}

#[test]
fn communes_skip_city_rows() {
    // 35,539 rows minus the 46 whole-city rows of Paris (21), Lyon (9) and
    // Marseille (16), which repeat their arrondissements' postal codes.
    assert_eq!(communes().len(), 35_493);
    for city in ["75056", "69123", "13055"] {
        assert!(
            communes().iter().all(|c| c.insee != city),
            "whole-city rows of {city} are skipped"
        );
    }

    let paris: Vec<&Commune> = communes()
        .iter()
        .filter(|c| c.parent_insee == Some("75056"))
        .collect();
    assert_eq!(paris.len(), 21);
    assert!(paris.iter().all(|c| c.parent_name == Some("Paris")));
    assert!(paris.iter().any(|c| c.postal_code == "75116"));

    let lyon = communes()
        .iter()
        .filter(|c| c.parent_name == Some("Lyon"))
        .count();
    assert_eq!(lyon, 9);
    let marseille = communes()
        .iter()
        .filter(|c| c.parent_name == Some("Marseille"))
        .count();
    assert_eq!(marseille, 16);
}

#[test]
fn communes_keep_every_postal_code() {
    let codes: BTreeSet<&str> = communes().iter().map(|c| c.postal_code).collect();
    assert_eq!(codes.len(), 6_310);
    assert!(
        communes()
            .iter()
            .all(|c| c.postal_code.len() == 5 && c.postal_code.bytes().all(|b| b.is_ascii_digit()))
    );
}

#[test]
fn commune_fields_parsed() {
    let reims: Vec<&Commune> = communes().iter().filter(|c| c.insee == "51454").collect();
    assert_eq!(reims.len(), 1);
    assert_eq!(reims[0].name, "Reims");
    assert_eq!(reims[0].departement_code, "51");
    assert_eq!(reims[0].parent_insee, None);
    assert_eq!(reims[0].parent_name, None);
}

#[test]
fn communes_for_shared_postal_code() {
    let served = communes_for_postal_code("52100");
    let departements: BTreeSet<&str> = served.iter().map(|c| c.departement_code).collect();
    assert_eq!(departements, BTreeSet::from(["51", "52"]));
    assert!(served.iter().any(|c| c.name == "Saint-Dizier"));
    assert!(communes_for_postal_code("00000").is_empty());

    let saint_barthelemy = communes_for_postal_code("97133");
    assert_eq!(saint_barthelemy.len(), 1);
    assert_eq!(saint_barthelemy[0].departement_code, "977");
}

#[test]
fn countries_parse_every_row() {
    assert_eq!(countries().len(), 249);
    assert!(
        countries()
            .windows(2)
            .all(|pair| pair[0].alpha3 < pair[1].alpha3),
        "sorted by alpha-3 with no duplicate, as the binary search needs"
    );
    let alpha2: HashSet<&str> = countries().iter().map(|c| c.alpha2).collect();
    assert_eq!(alpha2.len(), 249);
    for country in countries() {
        assert!(
            country.alpha2.len() == 2 && country.alpha2.bytes().all(|b| b.is_ascii_uppercase())
        );
        assert!(
            country.alpha3.len() == 3 && country.alpha3.bytes().all(|b| b.is_ascii_uppercase())
        );
        assert!(!country.name_en.is_empty());
        assert!(!country.name_fr.is_empty());
    }
}

#[test]
fn country_by_alpha3_cases() {
    let cases = [
        ("FRA", Some(("FR", "France"))),
        ("BEL", Some(("BE", "Belgique"))),
        ("ABW", Some(("AW", "Aruba"))),
        ("ZWE", Some(("ZW", "Zimbabwe"))),
        ("WLF", Some(("WF", "Wallis-et-Futuna"))),
        ("fra", None),
        ("XXX", None),
        ("", None),
    ];
    for (code, expected) in cases {
        let found = country_by_alpha3(code).map(|c| (c.alpha2, c.name_fr));
        assert_eq!(found, expected, "country_by_alpha3({code:?})");
    }
}

#[test]
fn wallis_and_futuna_is_spelt_with_hyphens() {
    let departement = departement("986").unwrap();
    assert_eq!(departement.name, "Wallis-et-Futuna");
    assert_eq!(departement.region_name, "Wallis-et-Futuna");
}

#[test]
fn selection_prefixes_use_real_postal_codes() {
    let cases: [(&str, &[&str]); 8] = [
        ("51", &["51"]),
        ("2A", &["2A"]),
        ("971", &["971"]),
        ("974", &["974"]),
        ("977", &["97133"]),
        ("978", &["97150"]),
        ("989", &["98799"]),
        ("984", &[]),
    ];
    for (code, expected) in cases {
        let found = departement(code).map(|d| d.selection_prefixes());
        assert_eq!(found.as_deref(), Some(expected), "selection of {code}");
    }
}

#[test]
fn selection_prefixes_match_own_communes() {
    for departement in departements() {
        for prefix in departement.selection_prefixes() {
            let prefixes = corsica_postal_prefixes(prefix).unwrap_or_else(|| vec![prefix.into()]);
            let matched = communes().iter().any(|commune| {
                commune.departement_code == departement.code
                    && prefixes
                        .iter()
                        .any(|prefix| commune.postal_code.starts_with(prefix.as_str()))
            });
            assert!(matched, "{} selects one of its communes", departement.code);
        }
    }
}

#[test]
fn departement_countries() {
    let cases = [
        ("51", "FRA"),
        ("974", "FRA"),
        ("977", "FRA"),
        ("986", "WLF"),
        ("987", "PYF"),
        ("988", "NCL"),
    ];
    for (code, expected) in cases {
        let found = departement(code).map(|d| d.country_alpha3());
        assert_eq!(found, Some(expected), "country of {code}");
    }
}

#[test]
fn city_matches_code_communes() {
    assert_eq!(postal_code_serves_city("51100", "Reims"), Some(true));
    assert_eq!(
        postal_code_serves_city("51100", "REIMS CEDEX 2"),
        Some(true)
    );
    assert_eq!(postal_code_serves_city("05100", "Reims"), Some(false));
    assert_eq!(postal_code_serves_city("75015", "Paris 15e"), Some(true));
    assert_eq!(postal_code_serves_city("75015", "PARIS"), Some(true));
    assert_eq!(
        postal_code_serves_city("69003", "Lyon 3e Arrondissement"),
        Some(true)
    );
    assert_eq!(postal_code_serves_city("93190", "Paris"), Some(false));
    assert_eq!(postal_code_serves_city("93190", "Livry-Gargan"), Some(true));
    assert_eq!(postal_code_serves_city("02100", "St Quentin"), Some(true));
    // Chief towns that addresses give for a one-commune collectivity.
    assert_eq!(postal_code_serves_city("97133", "Gustavia"), Some(true));
    assert_eq!(postal_code_serves_city("97150", "MARIGOT"), Some(true));
    assert_eq!(postal_code_serves_city("98799", "Clipperton"), Some(true));
    assert_eq!(postal_code_serves_city("97133", "Marigot"), Some(false));
    assert_eq!(
        postal_code_serves_city("51530", "saint martin d ablois"),
        Some(true)
    );
    // A code La Poste does not list, or a city of symbols only.
    assert_eq!(postal_code_serves_city("99999", "Reims"), None);
    assert_eq!(postal_code_serves_city("51100", "—"), None);
}

#[test]
fn city_keys_leave_out_what_varies() {
    assert_eq!(city_key("Saint-Martin-d'Ablois"), "saint martin d ablois");
    assert_eq!(city_key("Ste  Menehould"), "sainte menehould");
    assert_eq!(city_key("Marseille 1er"), "marseille");
    assert_eq!(city_key("Reims Cedex 2"), "reims");
    // A number that starts the name is kept.
    assert_eq!(city_key("1 rue"), "1 rue");
}

#[test]
fn postal_codes_of_a_city_by_its_name() {
    assert_eq!(postal_codes_of_city("REIMS"), ["51100"]);
    assert_eq!(
        postal_codes_of_city("Saint-Étienne"),
        ["42000", "42100", "42230"]
    );
    assert_eq!(
        postal_codes_of_city("St Etienne"),
        ["42000", "42100", "42230"]
    );
    assert_eq!(postal_codes_of_city("Paris").len(), 21);
    assert!(postal_codes_of_city("Autreville-sur-Rien").is_empty());
    assert!(postal_codes_of_city("").is_empty());
}
