//! Argon2id password hashing, run off the async runtime (it takes tens of milliseconds
//! and 19 MiB by design).
//!
//! Logins are unauthenticated, so memory must not grow with a burst of them: at most one
//! hash per core runs at a time, and each reuses a memory block from a small pool instead
//! of allocating 19 MiB that the allocator would keep afterwards.

use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use std::sync::{LazyLock, Mutex};
use tokio::sync::Semaphore;

/// At most one hash per core at a time; further requests wait their turn.
static HASHING: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(cores()));

/// Reusable Argon2 memory, at most one block set per permit.
static MEMORY: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

/// Stored hashes asking for more memory than this are refused rather than honoured.
const MAX_M_COST_KIB: u32 = 256 * 1024;

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

/// A hash of a random password, verified against when the user does not exist so that
/// an unknown user name takes as long as a wrong password.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| hash_blocking("zhifa-dummy-password!A1"));

fn with_memory<T>(blocks: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
    let mut mem = MEMORY
        .lock()
        .ok()
        .and_then(|mut pool| pool.pop())
        .unwrap_or_default();
    if mem.len() < blocks {
        mem = vec![Block::default(); blocks];
    }
    let result = f(&mut mem[..blocks]);
    if let Ok(mut pool) = MEMORY.lock()
        && pool.len() < cores()
    {
        pool.push(mem);
    }
    result
}

fn hash_blocking(password: &str) -> String {
    let params = Params::default();
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the operating system provides randomness");
    let mut out = [0u8; 32];
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    with_memory(params.block_count(), |mem| {
        argon
            .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, mem)
            .expect("argon2 with default parameters cannot fail")
    });
    format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        B64.encode(salt),
        B64.encode(out)
    )
}

/// A parsed PHC string.
struct Phc {
    alg: Algorithm,
    version: Version,
    params: Params,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

/// Parses `$argon2id$v=19$m=…,t=…,p=…$salt$hash`.
fn parse_phc(phc: &str) -> Option<Phc> {
    let parts: Vec<&str> = phc.split('$').collect();
    let [empty, alg, version, params, salt, hash] = parts.as_slice() else {
        return None;
    };
    if !empty.is_empty() {
        return None;
    }
    let alg = Algorithm::try_from(*alg).ok()?;
    let version = Version::try_from(version.strip_prefix("v=")?.parse::<u32>().ok()?).ok()?;
    let (mut m, mut t, mut p) = (None, None, None);
    for kv in params.split(',') {
        let (k, v) = kv.split_once('=')?;
        let v: u32 = v.parse().ok()?;
        match k {
            "m" => m = Some(v),
            "t" => t = Some(v),
            "p" => p = Some(v),
            _ => return None,
        }
    }
    let m = m.filter(|&m| m <= MAX_M_COST_KIB)?;
    let hash = B64.decode(hash).ok()?;
    let params = Params::new(m, t?, p?, Some(hash.len())).ok()?;
    Some(Phc {
        alg,
        version,
        params,
        salt: B64.decode(salt).ok()?,
        hash,
    })
}

fn verify_blocking(password: &str, phc: &str) -> bool {
    let Some(Phc {
        alg,
        version,
        params,
        salt,
        hash: expected,
    }) = parse_phc(phc)
    else {
        return false;
    };
    let blocks = params.block_count();
    let argon = Argon2::new(alg, version, params);
    let mut out = vec![0u8; expected.len()];
    let ok = with_memory(blocks, |mem| {
        argon
            .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, mem)
            .is_ok()
    });
    ok && out.len() == expected.len()
        && out
            .iter()
            .zip(&expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
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
    use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};

    #[tokio::test]
    async fn hash_and_verify() {
        let h = hash("Zhifa@2026").await;
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("Zhifa@2026", Some(h.clone())).await);
        assert!(!verify("zhifa@2026", Some(h)).await);
        assert!(!verify("Zhifa@2026", None).await);
        assert!(!verify("x", Some("not a hash".into())).await);
        assert!(
            !verify(
                "x",
                Some("$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHQ$aGFzaA".into())
            )
            .await
        );
    }

    /// Our PHC strings are standard: the argon2 crate's own verifier accepts ours and
    /// ours accepts its.
    #[test]
    fn interoperates_with_the_reference_encoder() {
        let ours = hash_blocking("Zhifa@2026");
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"Zhifa@2026", &parsed)
                .is_ok()
        );
        let theirs = Argon2::default()
            .hash_password(b"Zhifa@2026")
            .unwrap()
            .to_string();
        assert!(verify_blocking("Zhifa@2026", &theirs));
        assert!(!verify_blocking("Zhifa@2027", &theirs));
    }
}
