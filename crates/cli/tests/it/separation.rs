//! The three separated administrators (三员, GB/T 22239-2019 8.1.4.2 d)) as the pages
//! enforce them: no account holds two of the roles, nobody changes their own, and the roles
//! of authority need the 安全管理员.

use crate::harness::TestApp;
use reqwest::StatusCode;
use zhifa_domain::Role;
use zhifa_store::on_both_backends;
use zhifa_store::testing::TestDb;

on_both_backends!(
    an_account_given_two_administrator_roles_is_refused_and_nothing_changes,
    roles_of_authority_are_granted_by_the_security_admin_only,
    nobody_changes_their_own_roles,
    no_one_takes_over_another_administrator_by_resetting_its_password,
);

/// Posts the roles form of `username`'s account as `by`; returns the status and page.
async fn post_roles(
    app: &TestApp,
    by: &reqwest::Client,
    username: &str,
    roles: &[&str],
) -> (StatusCode, String) {
    let target = app.store.user_by_username(username).await.unwrap();
    let token = app
        .csrf_for(by, &format!("/app/admin/users/{}", target.id))
        .await;
    let version = target.version.to_string();
    let mut form = vec![
        ("csrf_token", token.as_str()),
        ("version", version.as_str()),
    ];
    form.extend(roles.iter().map(|r| ("roles", *r)));
    let r = by
        .post(app.url(&format!("/app/admin/users/{}/roles", target.id)))
        .form(&form)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn an_account_given_two_administrator_roles_is_refused_and_nothing_changes(db: TestDb) {
    let app = TestApp::start(db).await;
    let admin = app.login("admin").await;
    let security = app.login("security").await;
    let before = app.store.user_by_username("auditor").await.unwrap();
    let entries = app.store.journal_count("user.roles").await.unwrap();
    for (by, roles) in [
        (&admin, ["audit_admin", "security_admin"]),
        (&security, ["audit_admin", "admin"]),
    ] {
        let (status, page) = post_roles(&app, by, "auditor", &roles).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            page.contains("不能同时担任") && page.contains("三员分立"),
            "{page}"
        );
    }
    // A 三员 with a business role is refused the same way.
    let (status, page) = post_roles(&app, &security, "auditor", &["audit_admin", "officer"]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("不能同时担任业务角色"), "{page}");
    // A new account, too: nothing is created.
    let agency = app.agency_id().await;
    let token = app.csrf_for(&admin, "/app").await;
    let r = admin
        .post(app.url(&format!("/app/admin/users/new?agency={agency}")))
        .form(&[
            ("csrf_token", token.as_str()),
            ("display_name", "王五"),
            ("username", "wangwu"),
            ("password", "Strong#Pass9"),
            ("roles", "admin"),
            ("roles", "audit_admin"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("三员分立"));
    assert!(app.store.user_by_username("wangwu").await.is_err());
    let after = app.store.user_by_username("auditor").await.unwrap();
    assert_eq!(after.roles, vec![Role::AuditAdmin]);
    assert_eq!(after.version, before.version);
    assert_eq!(
        app.store.journal_count("user.roles").await.unwrap(),
        entries
    );
}

async fn roles_of_authority_are_granted_by_the_security_admin_only(db: TestDb) {
    let app = TestApp::start(db).await;
    let admin = app.login("admin").await;
    // The 系统管理员's form offers 乡领导 but not to tick: it needs the 安全管理员.
    let officer = app.store.user_by_username("officer").await.unwrap();
    let page = admin
        .get(app.url(&format!("/app/admin/users/{}", officer.id)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(r#"id="r-leader" type="checkbox" disabled"#),
        "{page}"
    );
    assert!(page.contains("须由安全管理员授予"));
    // Forged anyway, it is refused.
    let (status, page) = post_roles(&app, &admin, "officer", &["officer", "leader"]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains("授予或取消“乡领导”角色须由安全管理员办理"),
        "{page}"
    );
    assert_eq!(
        app.store.user_by_username("officer").await.unwrap().roles,
        vec![Role::Officer]
    );
    // The 系统管理员 still sets ordinary roles; the 安全管理员 grants 乡领导.
    let (status, _) = post_roles(&app, &admin, "officer", &["officer", "department_head"]).await;
    assert_eq!(status, StatusCode::OK);
    let security = app.login("security").await;
    let (status, page) = post_roles(
        &app,
        &security,
        "officer",
        &["officer", "department_head", "leader"],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("角色已保存"));
    assert_eq!(
        app.store.user_by_username("officer").await.unwrap().roles,
        vec![Role::Officer, Role::DepartmentHead, Role::Leader]
    );
    // The 系统管理员 saving that account's form keeps 乡领导 (sent unchanged) and may
    // still change the roles it may grant.
    let (status, page) = post_roles(&app, &admin, "officer", &["officer", "leader"]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    // The 安全管理员 neither creates accounts nor resets passwords.
    let r = security
        .get(app.url(&format!(
            "/app/admin/users/new?agency={}",
            app.agency_id().await
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let page = security
        .get(app.url(&format!("/app/admin/users/{}", officer.id)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("重置密码") && page.contains("保存角色"));
}

async fn nobody_changes_their_own_roles(db: TestDb) {
    let app = TestApp::start(db).await;
    for (who, roles) in [
        ("admin", vec!["officer"]),
        ("security", vec!["security_admin", "leader"]),
        ("security", vec![]),
    ] {
        let c = app.login(who).await;
        let before = app.store.user_by_username(who).await.unwrap();
        let (status, page) = post_roles(&app, &c, who, &roles).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{who}");
        assert!(page.contains("不能修改自己的角色"), "{page}");
        assert_eq!(
            app.store.user_by_username(who).await.unwrap().roles,
            before.roles
        );
    }
}

/// The 系统管理员 resets passwords, but not those of the other two: whoever knows an
/// account's password holds its powers. The page does not offer it, the server refuses it,
/// and the password stays; an officer's password is still reset as before.
async fn no_one_takes_over_another_administrator_by_resetting_its_password(db: TestDb) {
    let app = TestApp::start(db).await;
    let admin = app.login("admin").await;
    for victim in ["security", "auditor"] {
        let target = app.store.user_by_username(victim).await.unwrap();
        let path = format!("/app/admin/users/{}", target.id);
        let page = admin
            .get(app.url(&path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("不能由他人在系统中重置"), "{page}");
        assert!(
            !page.contains(&format!("{path}/password")),
            "the form is offered"
        );
        let token = app.csrf_for(&admin, &path).await;
        let r = admin
            .post(app.url(&format!("{path}/password")))
            .form(&[
                ("csrf_token", token.as_str()),
                ("password", "Takeover#2026"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(r.text().await.unwrap().contains("zhifa user passwd"));
        let after = app.store.user_by_username(victim).await.unwrap();
        assert_eq!(after.version, target.version, "{victim}'s account changed");
    }
    // The 安全管理员 cannot reset the 系统管理员's either.
    let security = app.login("security").await;
    let target = app.store.user_by_username("admin").await.unwrap();
    let path = format!("/app/admin/users/{}", target.id);
    let token = app.csrf_for(&security, &path).await;
    let r = security
        .post(app.url(&format!("{path}/password")))
        .form(&[
            ("csrf_token", token.as_str()),
            ("password", "Takeover#2026"),
        ])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    assert_eq!(
        app.store.user_by_username("admin").await.unwrap().version,
        target.version
    );
}
