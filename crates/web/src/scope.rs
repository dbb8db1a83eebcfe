//! The agency hierarchy, loaded once per request, answering scope questions in memory.

use crate::AppState;
use zhifa_store::StoreError;
use zhifa_store::org::Agency;

/// Agencies with their parent links, to answer scope questions without more queries.
pub struct AgencyTree {
    pub agencies: Vec<Agency>,
}

impl AgencyTree {
    pub async fn load(state: &AppState) -> Result<Self, StoreError> {
        Ok(AgencyTree {
            agencies: state.store.list_agencies().await?,
        })
    }

    pub fn get(&self, id: i64) -> Option<&Agency> {
        self.agencies.iter().find(|a| a.id == id)
    }

    pub fn scope(&self, id: i64) -> zhifa_domain::access::AgencyScope {
        let mut ancestors = Vec::new();
        let mut cur = self.get(id).and_then(|a| a.parent_id);
        while let Some(p) = cur {
            if ancestors.contains(&p) || ancestors.len() > 16 {
                break;
            }
            ancestors.push(p);
            cur = self.get(p).and_then(|a| a.parent_id);
        }
        zhifa_domain::access::AgencyScope {
            agency_id: id,
            ancestors,
        }
    }

    /// `id` and every agency below it.
    pub fn subtree(&self, id: i64) -> Vec<Agency> {
        self.agencies
            .iter()
            .filter(|a| a.id == id || self.scope(a.id).ancestors.contains(&id))
            .cloned()
            .collect()
    }
}
