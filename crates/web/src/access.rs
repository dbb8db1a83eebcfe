//! The access gate of the web layer: asks the domain rule and records every denial.

use crate::AppState;
use crate::error::PageError;
use zhifa_domain::{Capability, Principal, Scope};
use zhifa_store::Actor;
use zhifa_store::accounts::Denial;

/// Allows or refuses; a refusal is journalled with the method and path tried and the
/// client's address.
pub async fn require(
    state: &AppState,
    principal: &Principal,
    capability: Capability,
    scope: &Scope,
    method: &str,
    path: &str,
    client_ip: &str,
) -> Result<(), Denied> {
    match principal.authorize(capability, scope) {
        Ok(()) => Ok(()),
        Err(_) => {
            record_denial(state, principal, capability, method, path, client_ip).await;
            Err(Denied)
        }
    }
}

/// Records a denial; failure to record is logged but never turns a 403 into a 500.
pub async fn record_denial(
    state: &AppState,
    principal: &Principal,
    capability: Capability,
    method: &str,
    path: &str,
    client_ip: &str,
) {
    tracing::warn!(user = %principal.username, capability = capability.code(), %path, "access denied");
    let result = async {
        let mut tx = state.store.write(Actor::User(principal.user_id)).await?;
        tx.record_denial(
            principal,
            &Denial {
                capability: capability.code(),
                method,
                path,
                client_ip,
            },
        )
        .await?;
        tx.commit().await
    }
    .await;
    if let Err(e) = result {
        tracing::error!(error = %e, "could not record a denial");
    }
}

/// Records a request refused before any permission check (a failed CSRF or origin check,
/// an invalid API token): in the user's agency log when known, else the installation's.
pub async fn record_refusal(
    state: &AppState,
    principal: Option<&Principal>,
    what: &'static str,
    method: &str,
    path: &str,
    client_ip: &str,
) {
    let actor = principal
        .map(|p| Actor::User(p.user_id))
        .unwrap_or(Actor::Anonymous);
    let result = async {
        let mut tx = state.store.write(actor).await?;
        tx.record_refusal(principal, what, method, path, client_ip)
            .await?;
        tx.commit().await
    }
    .await;
    if let Err(e) = result {
        tracing::error!(error = %e, "could not record a refused request");
    }
}

/// A refused request; converts to the page or API 403.
#[derive(Debug)]
pub struct Denied;

impl From<Denied> for PageError {
    fn from(_: Denied) -> Self {
        PageError::Forbidden("您没有执行此操作的权限。此次访问已被记录。".into())
    }
}

impl From<Denied> for crate::error::ApiError {
    fn from(_: Denied) -> Self {
        crate::error::ApiError::Forbidden
    }
}
