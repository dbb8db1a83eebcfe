//! Finding cases by words. Every case's number, cause and parties (names and identifiers)
//! are fixed when it is opened; their two-character pieces (bigrams) go into `case_words`
//! in the same transaction, and `case_word_counts` keeps how many cases of the agency have
//! each piece. A search starts from the rarest piece of its words — a party's name or a
//! number's digits usually narrow 100,000 cases to a few — and the list query then checks
//! each word exactly (`LIKE`), so the index only ever narrows, never decides.

use crate::db::Store;
use crate::error::StoreError;
use crate::write::WriteTx;
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet};

/// Rows per multi-row statement.
const CHUNK: usize = 200;

/// The bigrams of a text: its whitespace-separated tokens, ASCII lowercased, each token's
/// adjacent character pairs. A token of one character has none (such a word is matched by
/// `LIKE` alone).
pub fn grams(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for token in text.split_whitespace() {
        let chars: Vec<char> = token.chars().map(|c| c.to_ascii_lowercase()).collect();
        for pair in chars.windows(2) {
            out.insert(pair.iter().collect());
        }
    }
    out
}

/// How a search may use the index.
pub(crate) enum Narrowing {
    /// No word has two characters: nothing to narrow by.
    None,
    /// A piece no case has: nothing can match.
    Empty,
    /// Start from the cases having this piece.
    From(String),
}

impl WriteTx {
    /// Indexes a newly opened case (its number, cause and parties' names and identifiers).
    pub(crate) async fn index_case(
        &mut self,
        agency_id: i64,
        case_id: i64,
        texts: &[&str],
    ) -> Result<(), StoreError> {
        let all: BTreeSet<String> = texts.iter().flat_map(|t| grams(t)).collect();
        let all: Vec<String> = all.into_iter().collect();
        for chunk in all.chunks(CHUNK) {
            insert_words(self.conn(), agency_id, &[(case_id, chunk)]).await?;
            add_counts(
                self.conn(),
                agency_id,
                chunk.iter().map(|g| (g.as_str(), 1)),
            )
            .await?;
        }
        Ok(())
    }
}

async fn insert_words(
    conn: &mut sqlx::AnyConnection,
    agency_id: i64,
    rows: &[(i64, &[String])],
) -> Result<(), StoreError> {
    let n: usize = rows.iter().map(|(_, g)| g.len()).sum();
    if n == 0 {
        return Ok(());
    }
    let mut sql = String::from("INSERT INTO case_words (agency_id, gram, case_id) VALUES ");
    let mut i = 0;
    for (_, gs) in rows {
        for _ in gs.iter() {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("($1, ${}, ${})", 2 * i + 2, 2 * i + 3));
            i += 1;
        }
    }
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(agency_id);
    for (case_id, gs) in rows {
        for g in gs.iter() {
            q = q.bind(g.clone()).bind(*case_id);
        }
    }
    q.execute(conn).await?;
    Ok(())
}

async fn add_counts<'a>(
    conn: &mut sqlx::AnyConnection,
    agency_id: i64,
    counts: impl Iterator<Item = (&'a str, i64)>,
) -> Result<(), StoreError> {
    let counts: Vec<(&str, i64)> = counts.collect();
    if counts.is_empty() {
        return Ok(());
    }
    let values: Vec<String> = (0..counts.len())
        .map(|i| format!("($1, ${}, ${})", 2 * i + 2, 2 * i + 3))
        .collect();
    let sql = format!(
        "INSERT INTO case_word_counts (agency_id, gram, n) VALUES {}
         ON CONFLICT (agency_id, gram) DO UPDATE SET n = case_word_counts.n + excluded.n",
        values.join(",")
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(agency_id);
    for (g, n) in counts {
        q = q.bind(g.to_owned()).bind(n);
    }
    q.execute(conn).await?;
    Ok(())
}

impl Store {
    /// Whether there are cases but no index (every case has a number of several
    /// characters, so an indexed case always has pieces).
    pub(crate) async fn case_words_missing(&self) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM cases LIMIT 1) c) AS cases,
                    (SELECT COUNT(*) FROM (SELECT 1 FROM case_words LIMIT 1) w) AS words",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(r.try_get::<i64, _>("cases")? > 0 && r.try_get::<i64, _>("words")? == 0)
    }

    /// Builds the index afresh from every case (after the migration that creates it, and
    /// for cases loaded in bulk by SQL). Returns how many cases were indexed.
    pub async fn rebuild_case_words(&self) -> Result<usize, StoreError> {
        let rows = sqlx::query(
            "SELECT c.id, c.agency_id, c.number, c.cause, p.name, p.id_code
             FROM cases c LEFT JOIN case_parties p ON p.case_id = c.id ORDER BY c.id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut cases: BTreeMap<i64, (i64, BTreeSet<String>)> = BTreeMap::new();
        for r in &rows {
            let id: i64 = r.try_get("id")?;
            let agency: i64 = r.try_get("agency_id")?;
            let entry = cases.entry(id).or_insert_with(|| (agency, BTreeSet::new()));
            for c in ["number", "cause", "name", "id_code"] {
                if let Some(t) = r.try_get::<Option<String>, _>(c)? {
                    entry.1.extend(grams(&t));
                }
            }
        }
        let _turn = self.sqlite_turn().await;
        let mut conn = self.pool.begin().await?;
        sqlx::query("DELETE FROM case_words")
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM case_word_counts")
            .execute(&mut *conn)
            .await?;
        let mut by_agency: BTreeMap<i64, Vec<(i64, Vec<String>)>> = BTreeMap::new();
        for (id, (agency, gs)) in cases {
            by_agency
                .entry(agency)
                .or_default()
                .push((id, gs.into_iter().collect()));
        }
        let mut indexed = 0;
        for (agency, list) in by_agency {
            let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
            let mut batch: Vec<(i64, &[String])> = Vec::new();
            let mut in_batch = 0;
            for (id, gs) in &list {
                for g in gs {
                    *counts.entry(g.as_str()).or_default() += 1;
                }
                batch.push((*id, gs.as_slice()));
                in_batch += gs.len();
                if in_batch >= CHUNK {
                    insert_words(&mut conn, agency, &batch).await?;
                    batch.clear();
                    in_batch = 0;
                }
                indexed += 1;
            }
            insert_words(&mut conn, agency, &batch).await?;
            let counts: Vec<(&str, i64)> = counts.into_iter().collect();
            for chunk in counts.chunks(CHUNK) {
                add_counts(&mut conn, agency, chunk.iter().copied()).await?;
            }
        }
        conn.commit().await?;
        Ok(indexed)
    }

    /// The rarest piece of the words (one read of the counts).
    pub(crate) async fn narrowing(
        &self,
        agency_id: i64,
        words: &[&str],
    ) -> Result<Narrowing, StoreError> {
        let all: BTreeSet<String> = words.iter().flat_map(|w| grams(w)).collect();
        if all.is_empty() {
            return Ok(Narrowing::None);
        }
        let marks: Vec<String> = (0..all.len()).map(|i| format!("${}", i + 2)).collect();
        let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT gram, n FROM case_word_counts WHERE agency_id = $1 AND gram IN ({})",
            marks.join(", ")
        )))
        .bind(agency_id);
        for g in &all {
            q = q.bind(g.clone());
        }
        let found = q.fetch_all(&self.pool).await?;
        if found.len() < all.len() {
            return Ok(Narrowing::Empty);
        }
        let mut best: Option<(i64, String)> = None;
        for r in &found {
            let n: i64 = r.try_get("n")?;
            if best.as_ref().is_none_or(|(m, _)| n < *m) {
                best = Some((n, r.try_get("gram")?));
            }
        }
        Ok(best
            .map(|(_, g)| Narrowing::From(g))
            .unwrap_or(Narrowing::None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grams_are_the_pairs_within_each_word() {
        let g = grams("朱堂综执罚〔2026〕3号 张某");
        assert!(g.contains("朱堂") && g.contains("〔2") && g.contains("张某"));
        assert!(!g.contains("号 ") && !g.contains(" 张"));
        assert!(grams("张").is_empty());
        assert_eq!(grams("91350100M000100Y43"), grams("91350100m000100y43"));
    }
}
