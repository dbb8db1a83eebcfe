//! The audit trail: security events in the installation's security log, and the trail
//! read back filtered by user, action, time and result across the logs.

use zhifa_domain::audit::{Outcome, actions_with};
use zhifa_domain::{NewAgency, Principal, Role, Username};
use zhifa_store::accounts::Denial;
use zhifa_store::journal::AuditFilter;
use zhifa_store::ledger::{SECURITY_LOG, SYSTEM_LOG};
use zhifa_store::testing::TestDb;
use zhifa_store::{Actor, Store, on_both_backends};

on_both_backends!(security_events_leave_the_agency_log_and_the_trail_finds_them,);

fn agency(name: &str, slug: &str, code: &str) -> NewAgency {
    NewAgency::parse(&zhifa_domain::org::AgencyInput {
        name: name.into(),
        slug: slug.into(),
        kind: "administrative_organ".into(),
        credit_code: code.into(),
        legal_basis: "依据".into(),
        ..Default::default()
    })
    .unwrap()
}

async fn actions(s: &Store, f: &AuditFilter) -> Vec<String> {
    let (rows, more) = s.audit_trail(f, 0, 1000).await.unwrap();
    assert!(!more);
    rows.into_iter().map(|e| e.action).collect()
}

async fn security_events_leave_the_agency_log_and_the_trail_finds_them(db: TestDb) {
    let s = &db.store;
    let mut tx = s.write(Actor::System("test")).await.unwrap();
    let a = tx
        .create_agency(&agency("甲乡人民政府", "jia", "914403001922038216"))
        .await
        .unwrap();
    let b = tx
        .create_agency(&agency("乙乡人民政府", "yi", "91350100M000100Y43"))
        .await
        .unwrap();
    let officer = tx
        .create_user(
            a,
            None,
            &Username::parse("jia-officer").unwrap(),
            "黄玉强",
            "$argon2id$x",
            &[Role::Officer],
        )
        .await
        .unwrap();
    let other = tx
        .create_user(
            b,
            None,
            &Username::parse("yi-officer").unwrap(),
            "李四",
            "$argon2id$x",
            &[Role::Officer],
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let officer = s.user(officer).await.unwrap();
    let other = s.user(other).await.unwrap();
    let agency_size = s.log_head(a).await.unwrap().size;
    let before = zhifa_store::now_ms();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;

    // Logins, a failure of the officer's name, one of a name nobody has, a denial.
    let mut tx = s.write(Actor::User(officer.id)).await.unwrap();
    tx.create_session(&officer, "h1", "c1", "10.0.0.7", None, None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = s.write(Actor::User(other.id)).await.unwrap();
    tx.create_session(&other, "h2", "c2", "10.0.0.8", None, None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = s.write(Actor::Anonymous).await.unwrap();
    tx.record_login_failure(
        "jia-officer",
        Some(&officer),
        "10.0.0.9",
        "bad_password",
        false,
    )
    .await
    .unwrap();
    tx.record_login_failure("nobody", None, "10.0.0.10", "unknown_user", false)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let middle = zhifa_store::now_ms();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let p: Principal = officer.principal();
    let mut tx = s.write(Actor::User(officer.id)).await.unwrap();
    tx.record_denial(
        &p,
        &Denial {
            capability: "manage_accounts",
            method: "GET",
            path: "/app/admin/users",
            client_ip: "10.0.0.7",
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    // None of them is in an agency's (public) log; all are in the security log, which
    // has no public name, and every log still verifies.
    assert_eq!(s.log_head(a).await.unwrap().size, agency_size);
    assert_eq!(s.log_head(SECURITY_LOG).await.unwrap().size, 5);
    assert!(s.log_id_by_name("_security").await.is_err());
    let report = s.verify(&[]).await.unwrap();
    assert!(report.ok(), "{:#?}", report.failures);

    // The agency's trail: its log and its accounts' security events, not the other
    // agency's login, nor the unknown name (that belongs to the installation).
    let all = AuditFilter {
        agency_id: a,
        ..Default::default()
    };
    let trail = actions(s, &all).await;
    assert_eq!(
        &trail[..3],
        ["access.denied", "auth.login_failed", "auth.login"],
        "newest first"
    );
    assert_eq!(trail.iter().filter(|a| *a == "auth.login").count(), 1);
    assert_eq!(
        trail.iter().filter(|a| *a == "auth.login_failed").count(),
        1
    );
    assert!(trail.contains(&"user.create".to_owned()));
    let (rows, _) = s.audit_trail(&all, 0, 1).await.unwrap();
    let denial = rows[0].payload.as_deref().unwrap();
    assert!(
        denial.contains("10.0.0.7") && denial.contains("/app/admin/users"),
        "{denial}"
    );

    // With the installation's entries: the unknown name, with its address.
    let installation = AuditFilter {
        installation: true,
        ..all.clone()
    };
    let (rows, _) = s.audit_trail(&installation, 0, 1000).await.unwrap();
    let unknown = rows
        .iter()
        .find(|e| e.subject_kind == "username")
        .expect("the unknown name's failure");
    assert!(unknown.payload.as_deref().unwrap().contains("10.0.0.10"));
    assert!(rows.iter().any(|e| e.log_id == SYSTEM_LOG));

    // By user: what the officer did, and the failure of the officer's name.
    let by_officer = AuditFilter {
        user_id: Some(officer.id),
        ..all.clone()
    };
    assert_eq!(
        actions(s, &by_officer).await,
        ["access.denied", "auth.login_failed", "auth.login"]
    );
    // By action, by result, by time.
    let logins = AuditFilter {
        actions: Some(vec!["auth.login"]),
        ..all.clone()
    };
    assert_eq!(actions(s, &logins).await, ["auth.login"]);
    let failures = AuditFilter {
        actions: Some(actions_with(Outcome::Failure)),
        ..all.clone()
    };
    assert_eq!(
        actions(s, &failures).await,
        ["access.denied", "auth.login_failed"]
    );
    let early = AuditFilter {
        from_ms: Some(before),
        until_ms: Some(middle),
        ..all.clone()
    };
    assert_eq!(
        actions(s, &early).await,
        ["auth.login_failed", "auth.login"]
    );
    let late = AuditFilter {
        from_ms: Some(middle),
        ..all.clone()
    };
    assert_eq!(actions(s, &late).await, ["access.denied"]);
    let nothing = AuditFilter {
        actions: Some(vec![]),
        ..all.clone()
    };
    assert!(actions(s, &nothing).await.is_empty());

    // Paging: pages meet without a gap or an overlap, and say whether more follow.
    let (whole, _) = s.audit_trail(&all, 0, 1000).await.unwrap();
    let (page1, more1) = s.audit_trail(&all, 0, 2).await.unwrap();
    let (page2, _) = s.audit_trail(&all, 2, 2).await.unwrap();
    assert!(more1);
    let keys = |v: &[zhifa_store::journal::JournalEntry]| {
        v.iter().map(|e| (e.log_id, e.seq)).collect::<Vec<_>>()
    };
    assert_eq!(keys(&page1), keys(&whole[..2]));
    assert_eq!(keys(&page2), keys(&whole[2..4]));
    let (beyond, more) = s.audit_trail(&all, whole.len(), 10).await.unwrap();
    assert!(beyond.is_empty() && !more);
}
