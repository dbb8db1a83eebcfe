//! The demo township (朱堂乡), loaded from `data/demo/zhutang.toml` through the same
//! write path as everything else.

use anyhow::{Context, anyhow};
use serde::Deserialize;
use zhifa_domain::catalog::{DEFAULT_REMEDY, ItemInput, NewItemVersion};
use zhifa_domain::credential::{CredentialInput, NewCredential, StatusChange, StatusInput};
use zhifa_domain::lists::{EntryInput, ListKind, parse_entry};
use zhifa_domain::org::{AgencyInput, DepartmentInput, LeadershipInput, PersonInput};
use zhifa_domain::{
    NewAgency, NewDepartment, NewLeadershipMember, NewPerson, Password, Role, Username,
};
use zhifa_store::{Actor, Store, StoreError, password};

const DATASET: &str = include_str!("../../../data/demo/zhutang.toml");
const ITEMS: &str = include_str!("../../../data/demo/zhutang-items.toml");
const LISTS: &str = include_str!("../../../data/demo/zhutang-lists.toml");

/// The other demo lists: for each list's code, its rows as string maps.
fn demo_lists() -> anyhow::Result<Vec<(ListKind, EntryInput)>> {
    let table: std::collections::BTreeMap<String, Vec<std::collections::BTreeMap<String, String>>> =
        toml::from_str(LISTS).context("demo lists are malformed")?;
    let mut out = Vec::new();
    for (code, rows) in table {
        let kind = ListKind::from_code(&code).ok_or_else(|| anyhow!("unknown demo list {code}"))?;
        for mut values in rows {
            let entry_code = values.remove("code").unwrap_or_default();
            out.push((
                kind,
                EntryInput {
                    code: entry_code,
                    values,
                },
            ));
        }
    }
    Ok(out)
}

/// The demo 执法事项清单 (`data/demo/zhutang-items.toml`).
#[derive(Deserialize)]
struct ItemsFile {
    items: Vec<ItemEntry>,
}

#[derive(Deserialize)]
struct ItemEntry {
    code: String,
    name: String,
    category: String,
    department: String,
    basis: String,
    #[serde(default)]
    basis_text: String,
    #[serde(default)]
    discretion: String,
    #[serde(default)]
    time_limit: Option<u32>,
    #[serde(default)]
    time_unit: String,
    effective_from: String,
}

impl ItemEntry {
    fn parse(&self) -> anyhow::Result<NewItemVersion> {
        NewItemVersion::parse(&ItemInput {
            code: self.code.clone(),
            name: self.name.clone(),
            category: self.category.clone(),
            basis: self.basis.clone(),
            basis_text: self.basis_text.clone(),
            discretion: self.discretion.clone(),
            department: self.department.clone(),
            time_limit: self.time_limit.map(|n| n.to_string()).unwrap_or_default(),
            time_unit: self.time_unit.clone(),
            remedy: DEFAULT_REMEDY.into(),
            effective_from: self.effective_from.clone(),
        })
        .map_err(|e| anyhow!("demo item {}: {e}", self.code))
    }
}

/// The password of every demo account (DESIGN §5).
pub const DEMO_PASSWORD: &str = "Zhifa@2026";

#[derive(Deserialize)]
struct Dataset {
    agency: AgencyInput,
    departments: Vec<DepartmentEntry>,
    leadership: Vec<LeadershipEntry>,
    accounts: Vec<AccountEntry>,
    #[serde(default)]
    staff: Vec<StaffEntry>,
    #[serde(default)]
    credentials: Vec<CredentialEntry>,
}

#[derive(Deserialize)]
struct StaffEntry {
    name: String,
    department: String,
    position: String,
}

/// A credential whose dates are days from the demo's creation.
#[derive(Deserialize)]
struct CredentialEntry {
    holder: String,
    kind: String,
    number: String,
    issuer: String,
    area: String,
    from_days: i64,
    to_days: i64,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    reason: String,
}

#[derive(Deserialize)]
struct DepartmentEntry {
    name: String,
    #[serde(default)]
    duties: String,
}

#[derive(Deserialize)]
struct LeadershipEntry {
    rank: String,
    name: String,
    post: String,
}

#[derive(Deserialize, Clone)]
pub struct AccountEntry {
    pub username: String,
    pub name: String,
    pub department: String,
    pub position: String,
    pub phone: String,
    pub roles: Vec<String>,
}

fn dataset() -> anyhow::Result<Dataset> {
    toml::from_str(DATASET).context("demo dataset is malformed")
}

/// The demo accounts, for printing and for tests.
pub fn accounts() -> Vec<AccountEntry> {
    dataset().map(|d| d.accounts).unwrap_or_default()
}

/// The demo agency's slug.
pub fn slug() -> String {
    dataset().map(|d| d.agency.slug).unwrap_or_default()
}

/// Creates the demo township unless it exists. Returns true when it was created.
pub async fn ensure(store: &Store) -> anyhow::Result<bool> {
    let data = dataset()?;
    match store.agency_by_slug(&data.agency.slug).await {
        Ok(_) => return Ok(false),
        Err(StoreError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    let agency = NewAgency::parse(&data.agency).map_err(|e| anyhow!("demo agency: {e}"))?;
    // Hash passwords before the transaction: hashing is slow and must not hold the lock.
    let password = Password::parse(DEMO_PASSWORD, None).map_err(|e| anyhow!("{e}"))?;
    let hash = password::hash(password.expose()).await;

    let mut tx = store.write(Actor::System("demo")).await?;
    let agency_id = tx.create_agency(&agency).await?;
    let mut department_ids = std::collections::HashMap::new();
    let mut person_ids = std::collections::HashMap::new();
    for (i, d) in data.departments.iter().enumerate() {
        let dept = NewDepartment::parse(&DepartmentInput {
            name: d.name.clone(),
            duties: d.duties.clone(),
            sort_order: ((i + 1) * 10).to_string(),
        })
        .map_err(|e| anyhow!("demo department {}: {e}", d.name))?;
        let id = tx.create_department(agency_id, &dept).await?;
        department_ids.insert(d.name.clone(), id);
    }
    for (i, m) in data.leadership.iter().enumerate() {
        let member = NewLeadershipMember::parse(&LeadershipInput {
            name: m.name.clone(),
            rank: m.rank.clone(),
            post: m.post.clone(),
            sort_order: (i + 1).to_string(),
        })
        .map_err(|e| anyhow!("demo leadership member {}: {e}", m.name))?;
        tx.create_leadership_member(agency_id, &member).await?;
    }
    for a in &data.accounts {
        let dept = department_ids.get(&a.department).ok_or_else(|| {
            anyhow!(
                "demo account {}: unknown department {}",
                a.username,
                a.department
            )
        })?;
        let person = NewPerson::parse(&PersonInput {
            name: a.name.clone(),
            department_id: dept.to_string(),
            position: a.position.clone(),
            phone: a.phone.clone(),
            ..Default::default()
        })
        .map_err(|e| anyhow!("demo person {}: {e}", a.name))?;
        let person_id = tx.create_person(agency_id, &person).await?;
        person_ids.insert(a.name.clone(), person_id);
        let roles: Vec<Role> = a
            .roles
            .iter()
            .map(|r| {
                Role::from_code(r)
                    .ok_or_else(|| anyhow!("demo account {}: unknown role {r}", a.username))
            })
            .collect::<anyhow::Result<_>>()?;
        let username = Username::parse(&a.username).map_err(|e| anyhow!("{e}"))?;
        tx.create_user(
            agency_id,
            Some(person_id),
            &username,
            &a.name,
            &hash,
            &roles,
        )
        .await?;
    }
    for p in &data.staff {
        let dept = department_ids
            .get(&p.department)
            .ok_or_else(|| anyhow!("demo staff {}: unknown department {}", p.name, p.department))?;
        let person = NewPerson::parse(&PersonInput {
            name: p.name.clone(),
            department_id: dept.to_string(),
            position: p.position.clone(),
            ..Default::default()
        })
        .map_err(|e| anyhow!("demo staff {}: {e}", p.name))?;
        person_ids.insert(p.name.clone(), tx.create_person(agency_id, &person).await?);
    }
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    let day = |offset: i64| (today + chrono::Duration::days(offset)).to_string();
    for c in &data.credentials {
        let holder = person_ids
            .get(&c.holder)
            .ok_or_else(|| anyhow!("demo credential {}: unknown holder {}", c.number, c.holder))?;
        let credential = NewCredential::parse(&CredentialInput {
            person_id: holder.to_string(),
            kind: c.kind.clone(),
            number: c.number.clone(),
            issuer: c.issuer.clone(),
            area: c.area.clone(),
            valid_from: day(c.from_days),
            valid_to: day(c.to_days),
        })
        .map_err(|e| anyhow!("demo credential {}: {e}", c.number))?;
        let id = tx.create_credential(agency_id, &credential).await?;
        if let Some(status) = &c.status {
            let change = StatusChange::parse(&StatusInput {
                status: status.clone(),
                reason: c.reason.clone(),
            })
            .map_err(|e| anyhow!("demo credential {}: {e}", c.number))?;
            tx.change_credential_status(id, 1, &change).await?;
        }
    }
    // The 执法事项清单; an entry whose code was seen before is a later version.
    let items: ItemsFile = toml::from_str(ITEMS).context("demo items are malformed")?;
    let mut item_ids: std::collections::HashMap<String, (i64, i64)> = Default::default();
    for entry in &items.items {
        let v = entry.parse()?;
        match item_ids.get_mut(&v.code) {
            Some((id, version)) => {
                tx.add_item_version(*id, *version, &v).await?;
                *version += 1;
            }
            None => {
                let id = tx.create_item(agency_id, &v).await?;
                item_ids.insert(v.code.clone(), (id, 1));
            }
        }
    }
    for (kind, input) in demo_lists()? {
        let entry = parse_entry(kind, &input)
            .map_err(|e| anyhow!("demo {} {}: {e}", kind.label(), input.code))?;
        tx.create_list_entry(agency_id, kind, &entry).await?;
    }
    crate::demo_cases::set_patterns(&mut tx, agency_id).await?;
    tx.commit().await?;
    // The cases are acts of the demo's people on past days; a scenario the rules refuse
    // (say, a day in a year the calendar does not cover yet) leaves the demo without it.
    if let Err(e) = crate::demo_cases::load(store, agency_id).await {
        tracing::warn!(error = %e, "demo cases not loaded");
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_catalogue_has_forty_items_in_six_categories_all_valid() {
        let items: ItemsFile = toml::from_str(ITEMS).unwrap();
        let parsed: Vec<NewItemVersion> = items.items.iter().map(|i| i.parse().unwrap()).collect();
        let codes: std::collections::HashSet<_> = parsed.iter().map(|v| &v.code).collect();
        let categories: std::collections::HashSet<_> =
            parsed.iter().map(|v| v.content.category).collect();
        assert!(codes.len() >= 40, "{} items", codes.len());
        assert!(categories.len() >= 6);
        // Every fine range lies inside what its statute allows is the catalogue's job;
        // here: every row's minimum is at most its maximum, and every item cites a law.
        for v in &parsed {
            assert!(!v.content.basis.is_empty());
            for r in &v.content.discretion {
                if let (Some(lo), Some(hi)) = (r.fine_min, r.fine_max) {
                    assert!(lo <= hi, "{}", v.code);
                }
            }
        }
    }

    #[test]
    fn every_demo_list_entry_is_valid_and_every_list_has_entries() {
        let lists = demo_lists().unwrap();
        for kind in ListKind::ALL {
            assert!(
                lists.iter().filter(|(k, _)| *k == kind).count() >= 4,
                "{kind:?}"
            );
        }
        for (kind, input) in &lists {
            parse_entry(*kind, input).unwrap();
        }
    }

    #[test]
    fn dataset_parses_and_has_every_role() {
        let d = dataset().unwrap();
        assert!(NewAgency::parse(&d.agency).is_ok());
        for role in Role::ALL {
            assert!(
                d.accounts
                    .iter()
                    .any(|a| a.roles.iter().any(|r| r == role.code())),
                "no demo account for {role:?}"
            );
        }
        assert!(d.accounts.iter().any(|a| a.username == "admin"));
    }

    /// The plan lists 1 组长, 14 副组长 and 15 组员 (seed plan, section 二).
    #[test]
    fn leadership_group_matches_the_plan() {
        // The plan itself (a government document, 朱堂乡人民政府 2023) is kept in data/seed.
        let plan = include_str!("../../../data/seed/zhutang-three-systems-plan.txt");
        let d = dataset().unwrap();
        let count = |rank: &str| d.leadership.iter().filter(|m| m.rank == rank).count();
        assert_eq!(
            (count("leader"), count("deputy_leader"), count("member")),
            (1, 14, 15)
        );
        // Every member and post appears in the plan's text (names there are padded with
        // spaces to line up two-character names).
        let squeezed: String = plan.chars().filter(|c| !c.is_whitespace()).collect();
        for m in &d.leadership {
            let needle = format!("{}{}", m.name, m.post);
            assert!(squeezed.contains(&needle), "{needle} not in the plan");
        }
    }
}
