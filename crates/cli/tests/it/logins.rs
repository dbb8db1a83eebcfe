//! kill -9 during logins: many logins at once against a real server, right and wrong
//! passwords, the server killed in the middle and started again. Nobody who gave a right
//! password is locked out or turned away, no account has more failures counted than
//! wrong passwords were sent for it, and the record verifies.

use crate::cli::{demo_on, stop, verified};
use reqwest::StatusCode;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Mutex;

const PASSWORD: &str = "Zhifa@2026";

/// What one login came to.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// Signed in (a redirect into the workbench).
    In,
    /// Refused, with the page's message.
    Refused(String),
    /// No answer: the server died under it.
    Lost,
}

/// One login as a browser does it: the form (its token and cookie), then the post.
async fn login(base: &str, user: &str, password: &str) -> Outcome {
    let c = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let Ok(page) = c.get(format!("{base}/login")).send().await else {
        return Outcome::Lost;
    };
    let Ok(page) = page.text().await else {
        return Outcome::Lost;
    };
    let token = crate::harness::csrf(&page);
    let form = [
        ("username", user),
        ("password", password),
        ("csrf_token", &token),
        ("next", "/app"),
    ];
    match c.post(format!("{base}/login")).form(&form).send().await {
        Err(_) => Outcome::Lost,
        Ok(r) if r.status() == StatusCode::SEE_OTHER => Outcome::In,
        Ok(r) => {
            let status = r.status();
            let body = r.text().await.unwrap_or_default();
            let message = body
                .split("role=\"alert\">")
                .nth(1)
                .and_then(|s| s.split('<').next())
                .unwrap_or_default()
                .to_owned();
            Outcome::Refused(format!("{status}: {message}"))
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_logins_locks_nobody_out_and_counts_no_failure_unsent() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_owned();
    let (child, port) = {
        let data = data.clone();
        tokio::task::spawn_blocking(move || demo_on(&data))
            .await
            .unwrap()
    };
    let base = format!("http://127.0.0.1:{port}");

    // Accounts that only ever give the right password, accounts that give a few wrong
    // ones (fewer than the lockout's five) among right ones, and one that is guessed at.
    let right_only = ["officer", "officer2", "market", "head"];
    let some_wrong = ["reviewer", "leader"];
    let guessed = "supervisor";
    let wrong_sent: Arc<Mutex<HashMap<&'static str, usize>>> = Arc::default();
    let signed_in = Arc::new(AtomicUsize::new(0));
    let stop_load = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    // Six at a time on each account: more than the five slots the lockout allows, so the
    // kill finds every slot of some accounts taken by attempts being checked.
    for (i, user) in right_only
        .iter()
        .chain(some_wrong.iter())
        .chain([guessed].iter())
        .enumerate()
    {
        for w in 0..6 {
            let (base, wrong_sent, signed_in, stop_load) = (
                base.clone(),
                wrong_sent.clone(),
                signed_in.clone(),
                stop_load.clone(),
            );
            let user: &'static str = user;
            workers.push(tokio::spawn(async move {
                let mut round = 0;
                while !stop_load.load(Ordering::Relaxed) {
                    let wrong = if user == guessed {
                        true
                    } else if some_wrong.contains(&user) {
                        // Two wrong passwords per account, from two of its workers.
                        round == 0 && w < 2
                    } else {
                        false
                    };
                    if wrong {
                        // Counted as sent before it goes: a failure counted for a request
                        // the server never finished is still one that was sent.
                        *wrong_sent.lock().await.entry(user).or_default() += 1;
                    }
                    let password = if wrong { "Wrong#Pass9" } else { PASSWORD };
                    match login(&base, user, password).await {
                        Outcome::Lost => return,
                        Outcome::In => {
                            signed_in.fetch_add(1, Ordering::Relaxed);
                        }
                        Outcome::Refused(m) => {
                            assert!(wrong, "{user} refused with the right password ({i}): {m}");
                        }
                    }
                    round += 1;
                }
            }));
        }
    }
    // Kill it once logins are going through, with others still being checked.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while signed_in.load(Ordering::Relaxed) < 8 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no login went through"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut child = child;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    stop_load.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }

    // Started again on the same directory.
    let (child, port) = {
        let data = data.clone();
        tokio::task::spawn_blocking(move || demo_on(&data))
            .await
            .unwrap()
    };
    let base = format!("http://127.0.0.1:{port}");
    // Everyone who never reached five wrong passwords signs in at once, all together.
    let again: Vec<_> = right_only
        .iter()
        .chain(some_wrong.iter())
        .map(|user| {
            let base = base.clone();
            let user: &'static str = user;
            tokio::spawn(async move { (user, login(&base, user, PASSWORD).await) })
        })
        .collect();
    for a in again {
        let (user, outcome) = a.await.unwrap();
        assert_eq!(outcome, Outcome::In, "{user} after the restart");
    }
    stop(child);

    // No more failures counted than wrong passwords sent, for any account.
    let store = zhifa_store::Store::open_read_only(&data.join("zhifa.db"))
        .await
        .unwrap()
        .with_entry_key(
            zhifa_store::keys::KeyStore::open(&data.join("keys"))
                .unwrap()
                .entry_key()
                .unwrap(),
        );
    let sent = wrong_sent.lock().await.clone();
    assert!(
        sent[guessed] >= 5,
        "the guessed account was guessed at: {sent:?}"
    );
    for user in right_only
        .iter()
        .chain(some_wrong.iter())
        .chain([guessed].iter())
    {
        let counted = store.login_failures_since(user, 0).await.unwrap();
        let sent = sent.get(user).copied().unwrap_or(0) as i64;
        assert!(
            counted <= sent,
            "{user}: {counted} failures counted, {sent} sent"
        );
        assert!(
            counted <= 5,
            "{user}: {counted} failures counted past the lockout"
        );
    }
    store.close().await;
    verified(&data);
}
