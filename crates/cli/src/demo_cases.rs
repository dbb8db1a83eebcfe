//! The demo township's cases (`data/demo/zhutang-cases.toml`): each scenario is played
//! through the store's case operations — the same rules the workbench obeys — as the demo
//! accounts, on days relative to the day the demo is created.

use anyhow::{Context, anyhow};
use chrono::NaiveDate;
use serde::Deserialize;
use std::collections::HashMap;
use zhifa_domain::case::{NewParty, NumberPattern, PartyInput, PenaltyInput};
use zhifa_store::Store;
use zhifa_store::cases::{Advance, CaseActor, OpenCase, Record};

const CASES: &str = include_str!("../../../data/demo/zhutang-cases.toml");

/// How the demo township numbers its cases (综执 = 综合行政执法).
const PATTERNS: &[(&str, &str)] = &[
    ("penalty-ordinary", "朱堂综执罚〔{年}〕{号}号"),
    ("penalty-summary", "朱堂综执当罚〔{年}〕{号}号"),
    ("seizure", "朱堂综执强〔{年}〕{号}号"),
    ("inspection", "朱堂综执检〔{年}〕{号}号"),
    ("licensing", "朱堂许〔{年}〕{号}号"),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CasesFile {
    cases: Vec<Scenario>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    procedure: String,
    item: String,
    cause: String,
    opened: i64,
    officers: Vec<String>,
    parties: Vec<PartyEntry>,
    acts: Vec<ActEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PartyEntry {
    kind: String,
    name: String,
    id_code: String,
    address: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActEntry {
    act: String,
    by: String,
    day: i64,
    to: Option<String>,
    #[serde(default)]
    officers: Vec<String>,
    #[serde(default)]
    note: String,
    #[serde(default)]
    measure: String,
    fine: Option<u64>,
    row: Option<usize>,
    #[serde(default)]
    facts: String,
    #[serde(default)]
    code: String,
    /// Evidence: its name (kind in `code`, source in `note`), and for a thing its
    /// specification and quantity.
    #[serde(default)]
    name: String,
    #[serde(default)]
    spec: String,
    #[serde(default)]
    quantity: String,
}

/// Sets the demo's numbering patterns (inside the demo's first transaction).
pub async fn set_patterns(tx: &mut zhifa_store::WriteTx, agency_id: i64) -> anyhow::Result<()> {
    for (procedure, pattern) in PATTERNS {
        let p = NumberPattern::parse(pattern).map_err(|e| anyhow!("{procedure}: {e}"))?;
        tx.set_case_number_pattern(agency_id, procedure, &p).await?;
    }
    Ok(())
}

/// Opens and carries every demo case as far as its scenario goes.
pub async fn load(store: &Store, agency_id: i64) -> anyhow::Result<()> {
    let file: CasesFile = toml::from_str(CASES).context("demo cases are malformed")?;
    // Documents are issued as the workbench issues them (the built-in templates).
    let web = zhifa_web::AppState::new(store.clone(), zhifa_web::WebConfig::default());
    let today = zhifa_store::today_beijing();
    let day = |offset: i64| today + chrono::Duration::days(offset);
    let people: HashMap<String, i64> = store
        .list_people(agency_id, None)
        .await?
        .into_iter()
        .map(|p| (p.name, p.id))
        .collect();
    let person = |name: &str| {
        people
            .get(name)
            .copied()
            .ok_or_else(|| anyhow!("demo case: unknown person {name}"))
    };
    let department_id = store
        .list_departments(agency_id)
        .await?
        .into_iter()
        .find(|d| d.name == "综合行政执法大队")
        .map(|d| d.id)
        .ok_or_else(|| anyhow!("demo: no 综合行政执法大队"))?;
    let items: HashMap<String, i64> = store
        .items_in_force(agency_id, today, &Default::default())
        .await?
        .into_iter()
        .map(|v| (v.code, v.item_id))
        .collect();
    let mut actors: HashMap<String, CaseActor> = HashMap::new();
    for a in crate::demo::accounts() {
        let u = store.user_by_username(&a.username).await?;
        let roles = a
            .roles
            .iter()
            .filter_map(|r| zhifa_domain::Role::from_code(r))
            .collect();
        actors.insert(
            a.username.clone(),
            CaseActor {
                user_id: u.id,
                person_id: u.person_id,
                roles,
            },
        );
    }
    let opener = actors
        .get("officer")
        .cloned()
        .ok_or_else(|| anyhow!("demo: no officer account"))?;
    for s in &file.cases {
        let parties = s
            .parties
            .iter()
            .map(|p| {
                NewParty::parse(
                    &PartyInput {
                        kind: p.kind.clone(),
                        name: p.name.clone(),
                        id_code: p.id_code.clone(),
                        address: p.address.clone(),
                    },
                    "",
                )
                .map_err(|e| anyhow!("demo case {}: party {}: {e}", s.cause, p.name))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let open = OpenCase {
            agency_id,
            department_id,
            procedure: s.procedure.clone(),
            item_id: Some(
                *items
                    .get(&s.item)
                    .ok_or_else(|| anyhow!("demo case {}: unknown item {}", s.cause, s.item))?,
            ),
            cause: s.cause.clone(),
            opened_on: day(s.opened),
            parties,
            officers: s
                .officers
                .iter()
                .map(|n| person(n))
                .collect::<anyhow::Result<_>>()?,
        };
        let (id, number) = store
            .open_case(&opener, &open)
            .await
            .map_err(|e| anyhow!("demo case {}: {e}", s.cause))?;
        for a in &s.acts {
            let actor = actors
                .get(&a.by)
                .ok_or_else(|| anyhow!("demo case {number}: unknown account {}", a.by))?;
            let on: NaiveDate = day(a.day);
            let version = store.case_file(id).await?.case.version;
            let result = match a.act.as_str() {
                "declare" => store.declare_no_conflict(actor, id, on).await,
                "advance" => {
                    let officers = a
                        .officers
                        .iter()
                        .map(|n| person(n))
                        .collect::<anyhow::Result<_>>()?;
                    store
                        .advance_case(
                            actor,
                            id,
                            version,
                            &Advance {
                                to: a.to.clone(),
                                day: on,
                                officers,
                                credentials_shown: !a.officers.is_empty(),
                                note: a.note.clone(),
                            },
                        )
                        .await
                }
                "penalty" => store
                    .set_penalty(
                        actor,
                        id,
                        version,
                        on,
                        &PenaltyInput {
                            measure: a.measure.clone(),
                            fine_yuan: a.fine.map(|f| f.to_string()).unwrap_or_default(),
                            discretion_row: a.row.map(|r| r.to_string()).unwrap_or_default(),
                            deviation_reason: String::new(),
                            facts: a.facts.clone(),
                        },
                    )
                    .await
                    .map(|_| ()),
                "waiver" => {
                    store
                        .record_on_case(
                            actor,
                            id,
                            version,
                            &Record::Waiver {
                                day: on,
                                note: a.note.clone(),
                            },
                        )
                        .await
                }
                "pause" => {
                    store
                        .record_on_case(
                            actor,
                            id,
                            version,
                            &Record::Pause {
                                code: a.code.clone(),
                                day: on,
                                note: a.note.clone(),
                            },
                        )
                        .await
                }
                "evidence" => {
                    let input = zhifa_domain::evidence::EvidenceInput {
                        kind: a.code.clone(),
                        name: a.name.clone(),
                        source: a.note.clone(),
                        spec: a.spec.clone(),
                        quantity: a.quantity.clone(),
                        collected_on: on.to_string(),
                    };
                    let e = zhifa_domain::evidence::NewEvidence::parse(
                        &input,
                        None,
                        day(s.opened),
                        day(0),
                    )
                    .map_err(|e| anyhow!("demo case {number}: evidence {}: {e}", a.name))?;
                    store.add_evidence(actor, id, &e).await.map(|_| ())
                }
                "document" => zhifa_web::issue_case_document(&web, actor, id, &a.code, on).await,
                other => return Err(anyhow!("demo case {number}: unknown act {other}")),
            };
            result.map_err(|e| anyhow!("demo case {number}, {} on {on}: {e}", a.act))?;
        }
    }
    Ok(())
}
