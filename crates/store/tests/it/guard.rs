//! No write over a tampered row: a row changed, inserted or deleted behind zhifa's back
//! stops the next act on it, which then writes nothing; the administrators are told; and
//! `zhifa verify` still names the row afterwards (the act could not launder it).

use zhifa_domain::org::{DepartmentInput, PersonInput};
use zhifa_domain::{NewAgency, NewDepartment, NewPerson, Role, Username};
use zhifa_store::guard::{Finding, TAMPER_ACTION, Tampered};
use zhifa_store::testing::TestDb;
use zhifa_store::{Actor, Backend, Store, StoreError, WriteTx, on_both_backends};

on_both_backends!(
    an_edit_of_a_row_changed_behind_zhifas_back_is_refused_and_changes_nothing,
    a_row_inserted_or_deleted_behind_zhifas_back_cannot_be_built_on,
    untouched_rows_are_edited_as_before,
    the_background_sweep_finds_a_row_nobody_acts_on_and_alerts_once,
);

struct World {
    db: TestDb,
    agency: i64,
    dept: i64,
    person: i64,
    user: i64,
}

fn department(name: &str) -> NewDepartment {
    NewDepartment::parse(&DepartmentInput {
        name: name.into(),
        ..Default::default()
    })
    .unwrap()
}

fn person(dept: i64, phone: &str) -> NewPerson {
    NewPerson::parse(&PersonInput {
        name: "黄玉强".into(),
        department_id: dept.to_string(),
        position: "队长".into(),
        phone: phone.into(),
        ..Default::default()
    })
    .unwrap()
}

async fn world(db: TestDb) -> World {
    let s = &db.store;
    let a = NewAgency::parse(&zhifa_domain::org::AgencyInput {
        name: "甲乡人民政府".into(),
        slug: "jia".into(),
        kind: "administrative_organ".into(),
        credit_code: "914403001922038216".into(),
        legal_basis: "依据".into(),
        ..Default::default()
    })
    .unwrap();
    let mut tx = s.write(Actor::System("test")).await.unwrap();
    let agency = tx.create_agency(&a).await.unwrap();
    let dept = tx
        .create_department(agency, &department("司法所"))
        .await
        .unwrap();
    let person = tx
        .create_person(agency, &person(dept, "13800138000"))
        .await
        .unwrap();
    let user = tx
        .create_user(
            agency,
            Some(person),
            &Username::parse("jia-officer").unwrap(),
            "黄玉强",
            "$argon2id$x",
            &[Role::Officer],
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    World {
        db,
        agency,
        dept,
        person,
        user,
    }
}

async fn sql(s: &Store, q: &str) {
    // Stands in for a database administrator with a SQL shell.
    s.raw_execute(q).await.unwrap();
}

/// Runs one change in its own transaction, as a handler does.
async fn act<F>(s: &Store, f: F) -> Result<(), StoreError>
where
    F: for<'a> FnOnce(
        &'a mut WriteTx,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<(), StoreError>> + Send + 'a>,
    >,
{
    let mut tx = s.write(Actor::User(1)).await?;
    f(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

fn tampered(r: Result<(), StoreError>) -> Tampered {
    match r {
        Err(StoreError::Tampered(t)) => {
            assert!(t.to_string().starts_with("数据被绕过系统修改"), "{t}");
            t
        }
        other => panic!("expected a refusal for tampering, got {other:?}"),
    }
}

/// The alerts about the agency, waited for: they are written once the refused
/// transaction has ended.
async fn alerts(s: &Store, agency: i64, at_least: usize) -> Vec<String> {
    for _ in 0..100 {
        let found = s.tamper_alerts(agency, 20).await.unwrap();
        if found.len() >= at_least {
            return found.into_iter().map(|(_, m)| m).collect();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no tamper alert was recorded");
}

async fn log_size(s: &Store, log: i64) -> u64 {
    s.log_head(log).await.unwrap().size
}

async fn an_edit_of_a_row_changed_behind_zhifas_back_is_refused_and_changes_nothing(db: TestDb) {
    let w = world(db).await;
    let s = &w.db.store;
    // A person's phone changed with SQL: verify names it.
    sql(
        s,
        &format!(
            "UPDATE people SET phone = '13900000000' WHERE id = {}",
            w.person
        ),
    )
    .await;
    let named = format!("people 表 id={}", w.person);
    assert!(
        s.verify(&[])
            .await
            .unwrap()
            .failures
            .iter()
            .any(|f| f.contains(&named))
    );
    // The next ordinary edit of the person (its position) is refused, naming the record.
    let before = log_size(s, w.agency).await;
    let (id, dept) = (w.person, w.dept);
    let t = tampered(
        act(s, |tx| {
            Box::pin(async move {
                let v = 1;
                tx.update_person(id, v, &person(dept, "13900000000"), true)
                    .await
            })
        })
        .await,
    );
    assert_eq!(
        (t.kind, t.id, &t.finding),
        ("person", w.person, &Finding::Differs)
    );
    assert!(
        t.to_string()
            .contains(&format!("人员（编号 {}）", w.person))
    );
    // Nothing was written: the row is as the tamperer left it, the position unchanged,
    // and the log holds only the alert, once the refused transaction has ended.
    let messages = alerts(s, w.agency, 1).await;
    assert!(messages[0].contains("人员"), "{messages:?}");
    assert_eq!(log_size(s, w.agency).await, before + 1);
    let last = s
        .log_entries(w.agency, before, before + 1)
        .await
        .unwrap()
        .pop()
        .unwrap();
    let entry = zhifa_ledger::entry::EntryRef::decode(&last.1).unwrap();
    assert_eq!(entry.action, TAMPER_ACTION);
    // verify still names the row: the act did not launder it into a genuine entry.
    let r = s.verify(&[]).await.unwrap();
    assert!(r.failures.iter().any(|f| f.contains(&named)), "{r:#?}");

    // A user's roles, a department, a password: each refused the same way once its row
    // is changed behind zhifa's back.
    sql(
        s,
        &format!("UPDATE departments SET name = '篡改' WHERE id = {}", w.dept),
    )
    .await;
    let t = tampered(
        act(s, |tx| {
            Box::pin(async move { tx.update_department(dept, 1, &department("司法所")).await })
        })
        .await,
    );
    assert_eq!((t.kind, t.finding), ("department", Finding::Differs));
    sql(
        s,
        &format!("UPDATE users SET roles = 'admin' WHERE id = {}", w.user),
    )
    .await;
    let user = w.user;
    let t = tampered(
        act(s, |tx| {
            Box::pin(async move { tx.set_user_password(user, "$argon2id$new").await })
        })
        .await,
    );
    assert_eq!((t.kind, t.id), ("user", w.user));
    alerts(s, w.agency, 3).await;
}

async fn a_row_inserted_or_deleted_behind_zhifas_back_cannot_be_built_on(db: TestDb) {
    let w = world(db).await;
    let s = &w.db.store;
    // A department inserted with SQL has no entry: editing it is refused.
    sql(
        s,
        &format!(
            "INSERT INTO departments (agency_id, name, duties, sort_order, created_at, updated_at)
             VALUES ({}, '幽灵部门', '', 0, 0, 0)",
            w.agency
        ),
    )
    .await;
    let ghost: i64 = s
        .list_departments(w.agency)
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.name == "幽灵部门")
        .unwrap()
        .id;
    let t = tampered(
        act(s, |tx| {
            Box::pin(async move { tx.update_department(ghost, 1, &department("幽灵二")).await })
        })
        .await,
    );
    assert_eq!((t.id, t.finding), (ghost, Finding::NoEntry));
    sql(s, &format!("DELETE FROM departments WHERE id = {ghost}")).await;

    // The newest department deleted with SQL, and the id counter wound back so that the
    // next department takes its id: that department's creation entry would make the
    // deleted row's history look complete, so the creation is refused.
    let agency = w.agency;
    let newest = {
        let mut tx = s.write(Actor::User(1)).await.unwrap();
        let id = tx
            .create_department(agency, &department("信访办"))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        id
    };
    sql(s, &format!("DELETE FROM departments WHERE id = {newest}")).await;
    match s.backend() {
        Backend::Sqlite => {
            sql(
                s,
                &format!(
                    "UPDATE sqlite_sequence SET seq = {} WHERE name = 'departments'",
                    newest - 1
                ),
            )
            .await
        }
        Backend::Postgres => {
            sql(
                s,
                &format!(
                    "SELECT setval(pg_get_serial_sequence('departments', 'id'), {})",
                    newest - 1
                ),
            )
            .await
        }
    }
    let t = tampered(
        act(s, |tx| {
            Box::pin(async move {
                tx.create_department(agency, &department("城建办"))
                    .await
                    .map(|_| ())
            })
        })
        .await,
    );
    assert_eq!(
        (t.kind, t.id, &t.finding),
        ("department", newest, &Finding::IdReused)
    );
    assert!(
        !s.list_departments(agency)
            .await
            .unwrap()
            .iter()
            .any(|d| d.name == "城建办")
    );
    let r = s.verify(&[]).await.unwrap();
    assert!(
        r.failures
            .iter()
            .any(|f| f.contains(&format!("departments 表 id={newest} 已被绕过系统删除"))),
        "{r:#?}"
    );
}

async fn untouched_rows_are_edited_as_before(db: TestDb) {
    let w = world(db).await;
    let s = &w.db.store;
    let (id, dept, user) = (w.person, w.dept, w.user);
    act(s, |tx| {
        Box::pin(async move {
            tx.update_person(id, 1, &person(dept, "13700000000"), true)
                .await?;
            tx.update_department(dept, 1, &department("司法所（更名）"))
                .await?;
            tx.set_user_roles(user, 1, &[Role::Officer, Role::DepartmentHead])
                .await?;
            tx.set_user_password(user, "$argon2id$y").await
        })
    })
    .await
    .unwrap();
    // Twice in one transaction: the second edit builds on the first, not on a stale check.
    act(s, |tx| {
        Box::pin(async move {
            tx.update_person(id, 2, &person(dept, "13700000001"), true)
                .await?;
            tx.update_person(id, 3, &person(dept, "13700000002"), false)
                .await
        })
    })
    .await
    .unwrap();
    let r = s.verify(&[]).await.unwrap();
    assert!(r.ok(), "{:#?}", r.failures);
    assert!(s.tamper_alerts(w.agency, 10).await.unwrap().is_empty());
}

async fn the_background_sweep_finds_a_row_nobody_acts_on_and_alerts_once(db: TestDb) {
    use zhifa_store::row_sweep::SweepCursor;
    let w = world(db).await;
    let s = &w.db.store;
    // A small slice at a time, round every table: nothing wrong yet.
    let mut cursor = SweepCursor::default();
    let mut checked = 0;
    loop {
        let run = s.sweep_rows(&mut cursor, 3).await.unwrap();
        assert!(run.tampered.is_empty(), "{:?}", run.tampered);
        checked += run.checked;
        if run.wrapped {
            break;
        }
    }
    assert!(checked >= 4, "{checked}");
    // A phone changed with SQL, and nobody touches the person afterwards.
    sql(
        s,
        &format!(
            "UPDATE people SET phone = '13900000000' WHERE id = {}",
            w.person
        ),
    )
    .await;
    let mut found = Vec::new();
    loop {
        let run = s.sweep_rows(&mut cursor, 1_000).await.unwrap();
        found.extend(run.tampered);
        if run.wrapped {
            break;
        }
    }
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].kind, found[0].id), ("person", w.person));
    // The administrators are told (the alert is written by the sweep itself).
    let alerts = s.tamper_alerts(w.agency, 10).await.unwrap();
    assert!(
        alerts
            .iter()
            .any(|(_, m)| m.contains("例行核查") && m.contains("人员")),
        "{alerts:?}"
    );
    // The next round finds it again but does not alert again.
    loop {
        let run = s.sweep_rows(&mut cursor, 1_000).await.unwrap();
        assert!(run.tampered.is_empty());
        if run.wrapped {
            break;
        }
    }
    assert_eq!(
        s.tamper_alerts(w.agency, 10).await.unwrap().len(),
        alerts.len()
    );
}
