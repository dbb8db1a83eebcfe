use zhifa_domain::org::{AgencyInput, DepartmentInput, LeadershipInput, PersonInput};
use zhifa_domain::{NewAgency, NewDepartment, NewLeadershipMember, NewPerson, Role, Username};
use zhifa_store::testing::TestDb;
use zhifa_store::{Actor, StoreError, on_both_backends};

fn agency(name: &str, slug: &str, code: &str, parent: Option<i64>) -> NewAgency {
    NewAgency::parse(&AgencyInput {
        name: name.into(),
        slug: slug.into(),
        kind: "administrative_organ".into(),
        credit_code: code.into(),
        legal_basis: "《中华人民共和国行政处罚法》第二十四条".into(),
        address: String::new(),
        parent_id: parent.map(|p| p.to_string()).unwrap_or_default(),
        ..Default::default()
    })
    .unwrap()
}

on_both_backends!(
    organisation_story,
    duplicate_credit_code_is_refused_and_nothing_written,
    stale_edit_is_refused,
    strings_are_stored_literally,
    migrate_twice_is_a_no_op,
    rolled_back_write_leaves_no_journal,
    no_account_is_written_with_two_administrator_roles,
);

/// Whoever writes (here the command line, with no principal), the store refuses a set of
/// roles the 三员 rule forbids, before writing anything.
async fn no_account_is_written_with_two_administrator_roles(db: TestDb) {
    let s = &db.store;
    let mut tx = s.write(Actor::System("test")).await.unwrap();
    let a = tx
        .create_agency(&agency("城关镇人民政府", "cg", "914403001922038216", None))
        .await
        .unwrap();
    let id = tx
        .create_user(
            a,
            None,
            &Username::parse("audit").unwrap(),
            "审计",
            "$argon2id$fake",
            &[Role::AuditAdmin],
        )
        .await
        .unwrap();
    let e = tx
        .create_user(
            a,
            None,
            &Username::parse("both").unwrap(),
            "两者",
            "$argon2id$fake",
            &[Role::Admin, Role::SecurityAdmin],
        )
        .await
        .unwrap_err();
    let StoreError::Invalid(f) = e else {
        panic!("{e:?}")
    };
    assert!(f.get("roles").unwrap().contains("三员分立"));
    let e = tx
        .set_user_roles(id, 1, &[Role::AuditAdmin, Role::Supervisor])
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Invalid(_)), "{e:?}");
    tx.commit().await.unwrap();
    assert_eq!(s.user(id).await.unwrap().roles, vec![Role::AuditAdmin]);
    assert!(s.user_by_username("both").await.is_err());
    assert_eq!(s.journal_count("user.roles").await.unwrap(), 0);
}

async fn organisation_story(db: TestDb) {
    let s = &db.store;
    let mut tx = s.write(Actor::System("test")).await.unwrap();
    let county = tx
        .create_agency(&agency(
            "罗山县人民政府",
            "luoshan",
            "114115210055512343",
            None,
        ))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = s.write(Actor::System("test")).await.unwrap();
    let town = tx
        .create_agency(&agency(
            "朱堂乡人民政府",
            "zhutang",
            "914403001922038216",
            Some(county),
        ))
        .await
        .unwrap();
    let dept = tx
        .create_department(
            town,
            &NewDepartment::parse(&DepartmentInput {
                name: "综合行政执法大队".into(),
                duties: "乡镇综合行政执法".into(),
                sort_order: "1".into(),
            })
            .unwrap(),
        )
        .await
        .unwrap();
    let person = tx
        .create_person(
            town,
            &NewPerson::parse(&PersonInput {
                name: "黄玉强".into(),
                department_id: dept.to_string(),
                position: "队长".into(),
                phone: "13800138000".into(),
                ..Default::default()
            })
            .unwrap(),
        )
        .await
        .unwrap();
    tx.create_leadership_member(
        town,
        &NewLeadershipMember::parse(&LeadershipInput {
            name: "郭志鑫".into(),
            rank: "leader".into(),
            post: "党委副书记（主持政府工作）".into(),
            sort_order: "1".into(),
        })
        .unwrap(),
    )
    .await
    .unwrap();
    let user = tx
        .create_user(
            town,
            Some(person),
            &Username::parse("huangyq").unwrap(),
            "黄玉强",
            "$argon2id$fake",
            &[Role::DepartmentHead, Role::Officer],
        )
        .await
        .unwrap();
    let ids = tx.commit().await.unwrap();
    // One entry per change, plus the announcement of the new agency's log.
    assert_eq!(ids.len(), 6, "one journal entry per change");

    let scope = s.agency_scope(town).await.unwrap();
    assert_eq!(scope.ancestors, vec![county]);
    let depts = s.list_departments(town).await.unwrap();
    assert_eq!(depts.len(), 1);
    assert_eq!(depts[0].people_count, 1);
    let people = s.list_people(town, Some(dept)).await.unwrap();
    assert_eq!(
        people[0].department_name.as_deref(),
        Some("综合行政执法大队")
    );
    let u = s.user(user).await.unwrap();
    assert_eq!(u.department_id, Some(dept));
    assert_eq!(u.roles, vec![Role::Officer, Role::DepartmentHead]);
    let leaders = s.list_leadership(town).await.unwrap();
    assert_eq!(leaders[0].name, "郭志鑫");
    let history = s
        .journal_for_subject("department", &dept.to_string())
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].action, "department.create");
    assert_eq!(history[0].actor, "system:test");
}

async fn duplicate_credit_code_is_refused_and_nothing_written(db: TestDb) {
    let s = &db.store;
    let mut tx = s.write(Actor::System("test")).await.unwrap();
    tx.create_agency(&agency("甲", "jia", "914403001922038216", None))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let before = s.journal_count("agency.create").await.unwrap();

    let mut tx = s.write(Actor::System("test")).await.unwrap();
    let err = tx
        .create_agency(&agency("乙", "yi", "914403001922038216", None))
        .await
        .unwrap_err();
    drop(tx);
    match err {
        StoreError::Invalid(e) => assert!(e.get("credit_code").unwrap().contains("已被")),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(s.list_agencies().await.unwrap().len(), 1);
    assert_eq!(s.journal_count("agency.create").await.unwrap(), before);
}

async fn stale_edit_is_refused(db: TestDb) {
    let s = &db.store;
    let mut tx = s.write(Actor::System("test")).await.unwrap();
    let a = tx
        .create_agency(&agency("甲", "jia", "914403001922038216", None))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let v = s.agency(a).await.unwrap().version;

    let mut tx = s.write(Actor::System("test")).await.unwrap();
    tx.update_agency(a, v, &agency("甲乡", "jia", "914403001922038216", None))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = s.write(Actor::System("test")).await.unwrap();
    let err = tx
        .update_agency(a, v, &agency("甲镇", "jia", "914403001922038216", None))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Stale));
    drop(tx);
    assert_eq!(s.agency(a).await.unwrap().name, "甲乡");

    // A parent cycle is refused.
    let mut tx = s.write(Actor::System("test")).await.unwrap();
    let err = tx
        .update_agency(
            a,
            v + 1,
            &agency("甲乡", "jia", "914403001922038216", Some(a)),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)));
}

async fn strings_are_stored_literally(db: TestDb) {
    let s = &db.store;
    let nasty = "'); DROP TABLE agencies; -- <script>alert(1)</script>";
    let mut tx = s.write(Actor::System("test")).await.unwrap();
    let a = tx
        .create_agency(&agency(nasty, "jia", "914403001922038216", None))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(s.agency(a).await.unwrap().name, nasty);
    assert_eq!(s.list_agencies().await.unwrap().len(), 1);
    // The log's copy too (on SQLite the entries go as one script of literals), byte for
    // byte: its commitment verifies.
    let journal = s
        .journal_for_subject("agency", &a.to_string())
        .await
        .unwrap();
    assert!(journal[0].payload.as_deref().unwrap().contains(nasty));
    assert!(s.verify(&[]).await.unwrap().ok());
}

async fn migrate_twice_is_a_no_op(db: TestDb) {
    assert!(db.store.migrate().await.unwrap().is_empty());
}

async fn rolled_back_write_leaves_no_journal(db: TestDb) {
    let s = &db.store;
    let mut tx = s.write(Actor::System("test")).await.unwrap();
    tx.create_agency(&agency("甲", "jia", "914403001922038216", None))
        .await
        .unwrap();
    drop(tx); // no commit
    assert!(s.list_agencies().await.unwrap().is_empty());
    assert_eq!(s.journal_count("agency.create").await.unwrap(), 0);
}
