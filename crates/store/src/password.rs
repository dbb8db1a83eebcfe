//! Argon2id password hashing, run off the async runtime (it takes tens of milliseconds
//! and 19 MiB by design).

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use std::sync::LazyLock;
use tokio::sync::Semaphore;

/// At most one hash per core at a time: each takes 19 MiB, and logins are unauthenticated,
/// so an unbounded burst would exhaust memory. Further requests wait their turn.
static HASHING: LazyLock<Semaphore> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    Semaphore::new(cores)
});

/// A hash of a random password, verified against when the user does not exist so that
/// an unknown user name takes as long as a wrong password.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| hash_blocking("zhifa-dummy-password!A1"));

fn hash_blocking(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes())
        .expect("argon2 with default parameters cannot fail")
        .to_string()
}

fn verify_blocking(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Hashes a password to a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub async fn hash(password: &str) -> String {
    let _permit = HASHING
        .acquire()
        .await
        .expect("the semaphore is never closed");
    let p = password.to_owned();
    tokio::task::spawn_blocking(move || hash_blocking(&p))
        .await
        .expect("hashing does not panic")
}

/// Checks a password against a stored hash; `None` burns the same time and fails.
pub async fn verify(password: &str, phc: Option<String>) -> bool {
    let _permit = HASHING
        .acquire()
        .await
        .expect("the semaphore is never closed");
    let p = password.to_owned();
    tokio::task::spawn_blocking(move || match phc {
        Some(h) => verify_blocking(&p, &h),
        None => {
            let _ = verify_blocking(&p, &DUMMY_HASH);
            false
        }
    })
    .await
    .expect("verification does not panic")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_and_verify() {
        let h = hash("Zhifa@2026").await;
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("Zhifa@2026", Some(h.clone())).await);
        assert!(!verify("zhifa@2026", Some(h)).await);
        assert!(!verify("Zhifa@2026", None).await);
        assert!(!verify("x", Some("not a hash".into())).await);
    }
}
