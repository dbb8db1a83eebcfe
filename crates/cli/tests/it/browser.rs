//! A real browser (Debian chromium through chromedriver) logs in and looks at the pages.
//! Runs when `chromedriver` is on PATH; CI sets `ZHIFA_REQUIRE_BROWSER=1` so that a
//! missing browser fails instead of skipping. Screenshots go to `target/screenshots/`.

use crate::harness::{PASSWORD, TestApp};
use fantoccini::{ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use zhifa_store::testing::TestDb;

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn chromedriver_available() -> bool {
    Command::new("chromedriver")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn screenshot_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn browser(width: u32) -> (fantoccini::Client, Driver) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver(child);
    let mut caps = serde_json::Map::new();
    let mut options = serde_json::json!({
        "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--no-first-run", "--disable-component-update", "--disable-sync", "--lang=zh-CN",
                 "--hide-scrollbars", format!("--window-size={width},1400")],
    });
    if width < 500 {
        // Headless windows are at least 500 px wide; a phone needs device emulation.
        options["mobileEmulation"] = serde_json::json!({
            "deviceMetrics": { "width": width, "height": 812, "pixelRatio": 2.0, "mobile": true, "touch": true }
        });
    }
    caps.insert("goog:chromeOptions".into(), options);
    let mut last = None;
    for _ in 0..50 {
        match ClientBuilder::new(HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(c) => return (c, driver),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("cannot reach chromedriver: {last:?}");
}

/// Fills in and submits the login form the browser is on, and waits for the workbench.
async fn sign_in(c: &fantoccini::Client, username: &str) {
    c.find(Locator::Id("username"))
        .await
        .unwrap()
        .send_keys(username)
        .await
        .unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    c.find(Locator::Css("form.stack button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Css("section.hero h1"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_logs_in_and_sees_the_workbench_on_desktop_and_phone() {
    if !chromedriver_available() {
        assert!(
            std::env::var("ZHIFA_REQUIRE_BROWSER").is_err(),
            "ZHIFA_REQUIRE_BROWSER is set but chromedriver is missing"
        );
        eprintln!("chromedriver not found: browser test skipped");
        return;
    }
    let app = TestApp::start(TestDb::sqlite().await).await;
    let shots = screenshot_dir();
    for (width, tag) in [(1280u32, "desktop"), (375, "phone")] {
        let (c, _driver) = browser(width).await;
        c.goto(&app.url("/")).await.unwrap();
        let body = c
            .find(Locator::Css("body"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(body.contains("郭志鑫"), "portal shows the leadership group");
        std::fs::write(
            shots.join(format!("portal-{tag}.png")),
            c.screenshot().await.unwrap(),
        )
        .unwrap();

        c.goto(&app.url("/app")).await.unwrap();
        // Not signed in: the workbench sends the browser to the login form.
        assert!(c.current_url().await.unwrap().path().starts_with("/login"));
        std::fs::write(
            shots.join(format!("login-{tag}.png")),
            c.screenshot().await.unwrap(),
        )
        .unwrap();
        sign_in(&c, "admin").await;
        assert_eq!(c.current_url().await.unwrap().path(), "/app");
        let body = c
            .find(Locator::Css("body"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            body.contains("赵敏") && body.contains("管理员"),
            "workbench home: {body}"
        );
        std::fs::write(
            shots.join(format!("workbench-{tag}.png")),
            c.screenshot().await.unwrap(),
        )
        .unwrap();

        // The page fits the screen: no horizontal scrolling of the document.
        assert_fits(&c, &format!("{tag}: workbench")).await;

        // 记录核验: the browser checks a record's inclusion proof by itself.
        let bundle = reqwest::get(app.url("/log/zhutang/tile/entries/000.p/5"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let entry = &zhifa_ledger::tiles::unbundle(&bundle).unwrap()[4];
        let leaf = zhifa_ledger::hash::to_hex(&zhifa_ledger::HashAlg::Sha256.leaf(entry));
        c.goto(&app.url("/verify")).await.unwrap();
        c.find(Locator::Id("f-hash"))
            .await
            .unwrap()
            .send_keys(&leaf)
            .await
            .unwrap();
        c.find(Locator::Css("#verify-form button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let mut checked = String::new();
        for _ in 0..50 {
            checked = c
                .find(Locator::Id("browser-check"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            if checked.contains("核验通过") || checked.contains("未通过") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(checked.contains("本浏览器独立核验通过"), "{tag}: {checked}");
        std::fs::write(
            shots.join(format!("verify-{tag}.png")),
            c.screenshot().await.unwrap(),
        )
        .unwrap();

        // 执法事项清单: filtered by category in the browser (a plain GET form, no script).
        c.goto(&app.url("/agencies/zhutang/items")).await.unwrap();
        c.find(Locator::Css("#f-category option[value=coercion]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        c.find(Locator::Css("form.filters button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        c.wait()
            .for_element(Locator::XPath("//p[contains(., '共 4 项')]"))
            .await
            .unwrap();
        assert_fits(&c, &format!("{tag}: items page")).await;
        std::fs::write(
            shots.join(format!("items-{tag}.png")),
            c.screenshot().await.unwrap(),
        )
        .unwrap();
        c.goto(&app.url("/agencies/zhutang/items/ZT-CF-003"))
            .await
            .unwrap();
        std::fs::write(
            shots.join(format!("item-{tag}.png")),
            c.screenshot().await.unwrap(),
        )
        .unwrap();

        // Import from Excel: the file is checked and previewed, then imported on
        // confirmation (the checked file travels in the form: no state on the server).
        let file = shots.join(format!("import-{tag}.xlsx"));
        std::fs::write(
            &file,
            crate::catalog::workbook(12, |i, r| r[0] = format!("{tag}-{i:03}")),
        )
        .unwrap();
        c.goto(&app.url("/app/admin/items/import")).await.unwrap();
        c.find(Locator::Id("f-file"))
            .await
            .unwrap()
            .send_keys(file.canonicalize().unwrap().to_str().unwrap())
            .await
            .unwrap();
        c.find(Locator::XPath("//button[text()='检查并预览']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        c.wait()
            .for_element(Locator::XPath("//h2[contains(., '将导入 12 行')]"))
            .await
            .unwrap();
        std::fs::write(
            shots.join(format!("import-preview-{tag}.png")),
            c.screenshot().await.unwrap(),
        )
        .unwrap();
        c.find(Locator::XPath("//button[text()='确认导入']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        c.wait()
            .for_element(Locator::XPath("//div[contains(., '新增事项 12 项')]"))
            .await
            .unwrap();

        c.goto(&app.url("/app/admin/leadership")).await.unwrap();
        std::fs::write(
            shots.join(format!("admin-leadership-{tag}.png")),
            c.screenshot().await.unwrap(),
        )
        .unwrap();
        // The case numbering patterns, one form per procedure.
        c.goto(&app.url("/app/admin/case-numbers")).await.unwrap();
        assert_fits(&c, &format!("{tag}: case numbers page")).await;
        std::fs::write(
            shots.join(format!("admin-case-numbers-{tag}.png")),
            c.screenshot().await.unwrap(),
        )
        .unwrap();
        c.close().await.unwrap();
    }
}

/// 亮证: an administrator opens an officer's credential; a phone "scans" its QR code (the
/// code in the page is decoded by a real QR reader, zbarimg, when installed) and sees
/// 有效; after the administrator revokes the credential, the same code shows 注销.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_scanning_a_credential_sees_its_status_change_at_once() {
    if !chromedriver_available() {
        assert!(
            std::env::var("ZHIFA_REQUIRE_BROWSER").is_err(),
            "ZHIFA_REQUIRE_BROWSER is set but chromedriver is missing"
        );
        eprintln!("chromedriver not found: browser test skipped");
        return;
    }
    let app = TestApp::start(TestDb::sqlite().await).await;
    let shots = screenshot_dir();
    let (admin, _d1) = browser(1280).await;
    admin.goto(&app.url("/login")).await.unwrap();
    sign_in(&admin, "admin").await;
    // The home page warns of the credential that ends within 30 days.
    let home = admin
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        home.contains("执法证件即将到期") && home.contains("李华"),
        "{home}"
    );
    admin
        .goto(&app.url("/app/admin/credentials"))
        .await
        .unwrap();
    std::fs::write(
        shots.join("admin-credentials-desktop.png"),
        admin.screenshot().await.unwrap(),
    )
    .unwrap();
    admin
        .find(Locator::XPath(
            "//tr[td[contains(., '豫A2024030101')]]//a[text()='管理']",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let check_url = admin
        .find(Locator::Css(".credential-state a.mono"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(check_url.contains("/v/"), "{check_url}");
    std::fs::write(
        shots.join("admin-credential-desktop.png"),
        admin.screenshot().await.unwrap(),
    )
    .unwrap();
    // A real QR reader decodes the code on the page to the check address.
    if Command::new("zbarimg").arg("--version").output().is_ok() {
        let png = admin
            .find(Locator::Css(".credential-state .credential-qr svg"))
            .await
            .unwrap()
            .screenshot()
            .await
            .unwrap();
        let file = shots.join("credential-qr.png");
        std::fs::write(&file, png).unwrap();
        let out = Command::new("zbarimg")
            .args(["--raw", "-q"])
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            check_url,
            "the QR code decodes to the check address"
        );
        // The printable card as PNG (300 dpi) and PDF: the QR code on the PNG decodes to
        // the same address.
        let url = admin.current_url().await.unwrap();
        let id = url.path().rsplit('/').next().unwrap().to_owned();
        let client = app.login("admin").await;
        let get = |ext: &str| {
            client
                .get(app.url(&format!("/app/admin/credentials/{id}/card.{ext}")))
                .send()
        };
        let png = get("png").await.unwrap().bytes().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        let file = shots.join("credential-card.png");
        std::fs::write(&file, &png).unwrap();
        let out = Command::new("zbarimg")
            .args(["--raw", "-q"])
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), check_url);
        let pdf = get("pdf").await.unwrap();
        assert_eq!(pdf.headers()["content-type"], "application/pdf");
        let pdf = pdf.bytes().await.unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        std::fs::write(shots.join("credential-card.pdf"), &pdf).unwrap();
        assert_eq!(get("exe").await.unwrap().status(), 404);
    } else {
        assert!(
            std::env::var("ZHIFA_REQUIRE_BROWSER").is_err(),
            "ZHIFA_REQUIRE_BROWSER is set but zbarimg (zbar-tools) is missing"
        );
    }

    let (phone, _d2) = browser(375).await;
    phone.goto(&check_url).await.unwrap();
    let status = phone
        .find(Locator::Css(".cred-check-status"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(status, "有效");
    let page = phone
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("张明") && page.contains("综合行政执法大队"));
    assert!(
        !page.contains("13900000002"),
        "no phone number on the public page"
    );
    std::fs::write(
        shots.join("credential-check-phone.png"),
        phone.screenshot().await.unwrap(),
    )
    .unwrap();

    // Revoked in the workbench…
    admin
        .find(Locator::Css("#f-status option[value=revoked]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    admin
        .find(Locator::Id("f-reason"))
        .await
        .unwrap()
        .send_keys("调离执法岗位")
        .await
        .unwrap();
    admin
        .find(Locator::XPath("//button[text()='保存状态']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    admin
        .wait()
        .for_element(Locator::XPath("//li[contains(., '调离执法岗位')]"))
        .await
        .unwrap();
    // …the same code shows 注销 at once.
    phone.goto(&check_url).await.unwrap();
    let status = phone
        .find(Locator::Css(".cred-check-status"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(status, "注销");
    std::fs::write(
        shots.join("credential-revoked-phone.png"),
        phone.screenshot().await.unwrap(),
    )
    .unwrap();
    // A forged code: a clear 无效 page.
    phone
        .goto(&app.url("/v/AAAAAAAAAAAAAAAAAAAAAA"))
        .await
        .unwrap();
    let status = phone
        .find(Locator::Css(".cred-check-status"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(status, "无效");
    phone
        .goto(&app.url("/agencies/zhutang/officers"))
        .await
        .unwrap();
    assert_fits(&phone, "officers page").await;
    std::fs::write(
        shots.join("officers-phone.png"),
        phone.screenshot().await.unwrap(),
    )
    .unwrap();
    admin.close().await.unwrap();
    phone.close().await.unwrap();
}

/// The page is no wider than the window (nothing to scroll sideways on a phone).
async fn assert_fits(c: &fantoccini::Client, what: &str) {
    let overflow = c
        .execute(
            "return document.documentElement.scrollWidth - window.innerWidth;",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        overflow.as_i64().unwrap() <= 0,
        "{what}: wider than the screen by {overflow}"
    );
}

/// Clicks the element `css` after scrolling it to the middle of the window (a long case
/// page puts buttons below the fold, where a click may otherwise land on nothing).
async fn click(c: &fantoccini::Client, css: &str) {
    let e = c.find(Locator::Css(css)).await.unwrap();
    c.execute(
        "arguments[0].scrollIntoView({block: 'center'});",
        vec![serde_json::to_value(&e).unwrap()],
    )
    .await
    .unwrap();
    if let Err(first) = e.clone().click().await {
        tokio::time::sleep(Duration::from_millis(300)).await;
        e.click()
            .await
            .unwrap_or_else(|e| panic!("click on {css}: {first}; again: {e}"));
    }
}

/// Clicks a form's submit button and waits for the case page that answers it — a new
/// document, not the one the click left (which also has a case number heading).
async fn submit(c: &fantoccini::Client, css: &str) {
    c.execute("window.__zhifaOld = true;", vec![])
        .await
        .unwrap();
    click(c, css).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let fresh = c
            .execute(
                "return !window.__zhifaOld && document.readyState === 'complete' && !!document.querySelector('h1.case-number');",
                vec![],
            )
            .await
            .map(|v| v.as_bool() == Some(true))
            .unwrap_or(false);
        if fresh {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no case page after submitting {css}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Signs `username` in, in a browser that may hold another user's session.
async fn switch_user(c: &fantoccini::Client, app: &TestApp, username: &str) {
    c.delete_all_cookies().await.unwrap();
    c.goto(&app.url("/login")).await.unwrap();
    sign_in(c, username).await;
}

/// Submits the form of the next step to `to` on the case page the browser is on ("" to
/// finish the last step), ticking the officers present and their shown credentials.
async fn take_step(c: &fantoccini::Client, to: &str, officers: &[i64]) {
    let form = format!("form.next-action:has(input[name=to][value='{to}'])");
    for o in officers {
        let css = format!("{form} input[name=officers][value='{o}']");
        let b = c.find(Locator::Css(&css)).await.unwrap();
        if b.prop("checked").await.unwrap().as_deref() != Some("true") {
            click(c, &css).await;
        }
    }
    if !officers.is_empty() {
        click(c, &format!("{form} input[name=credentials_shown]")).await;
    }
    submit(c, &format!("{form} button[type=submit]")).await;
    let errors = c.find_all(Locator::Css("div.alert.error")).await.unwrap();
    if let Some(e) = errors.first() {
        panic!("step to {to:?} refused: {}", e.text().await.unwrap());
    }
}

/// Part of issue 5's "done when": an officer pair, their department head, the leader take
/// the demo's newest penalty case from 立案 to 归档 in a real browser, on a desktop and on
/// a phone; the case page marks the current step of the flowchart all along.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_pair_takes_a_penalty_case_from_filing_to_archive_in_a_browser() {
    if !chromedriver_available() {
        assert!(
            std::env::var("ZHIFA_REQUIRE_BROWSER").is_err(),
            "ZHIFA_REQUIRE_BROWSER is set but chromedriver is missing"
        );
        eprintln!("chromedriver not found: browser test skipped");
        return;
    }
    let app = TestApp::start(TestDb::sqlite().await).await;
    let shots = screenshot_dir();
    let agency = app.agency_id().await;
    let (cases, _) = app
        .store
        .list_cases(agency, &Default::default(), 50, 0)
        .await
        .unwrap();
    let id = cases.iter().find(|c| c.step == "filing").unwrap().id;
    let page = app.url(&format!("/app/cases/{id}"));
    let people = app.store.list_people(agency, None).await.unwrap();
    let li = people.iter().find(|p| p.name == "李华").unwrap().id;
    for (width, tag) in [(1280u32, "desktop"), (375, "phone")] {
        let (c, _driver) = browser(width).await;
        c.goto(&app.url("/login")).await.unwrap();
        sign_in(&c, "leader").await;
        c.goto(&app.url("/app/cases")).await.unwrap();
        std::fs::write(
            shots.join(format!("cases-{tag}.png")),
            c.screenshot().await.unwrap(),
        )
        .unwrap();
        assert_fits(&c, &format!("{tag}: case list")).await;
        if tag == "phone" {
            // The desktop pass has taken the case to 归档; the phone looks at the record.
            c.goto(&page).await.unwrap();
            let text = c
                .find(Locator::Css("main"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(text.contains("本案办结"), "{text}");
            std::fs::write(
                shots.join("case-closed-phone.png"),
                c.screenshot().await.unwrap(),
            )
            .unwrap();
            // An open case's evidence form, on the phone.
            let open = cases
                .iter()
                .find(|x| x.closed_on.is_none() && x.id != id)
                .unwrap();
            switch_user(&c, &app, "officer").await;
            c.goto(&app.url(&format!("/app/cases/{}#h-evidence", open.id)))
                .await
                .unwrap();
            assert_fits(&c, "phone: evidence form").await;
            std::fs::write(
                shots.join("case-evidence-phone.png"),
                c.screenshot().await.unwrap(),
            )
            .unwrap();
            c.goto(&app.url("/app/cases?status=open")).await.unwrap();
            c.execute("window.scrollTo(0, 700);", vec![]).await.unwrap();
            std::fs::write(
                shots.join("cases-rows-phone.png"),
                c.screenshot().await.unwrap(),
            )
            .unwrap();
            assert_fits(&c, "phone: case list").await;
            c.close().await.unwrap();
            continue;
        }
        switch_user(&c, &app, "head").await;
        c.goto(&page).await.unwrap();
        std::fs::write(
            shots.join("case-filing-desktop.png"),
            c.screenshot().await.unwrap(),
        )
        .unwrap();
        take_step(&c, "investigation", &[]).await;
        // Each officer declares for themself (回避).
        for officer in ["officer2", "officer"] {
            switch_user(&c, &app, officer).await;
            c.goto(&page).await.unwrap();
            submit(&c, "form[action$='/declare'] button").await;
        }
        // Evidence with its photo, through the multipart form.
        c.goto(&page).await.unwrap();
        click(&c, "#f-ev-kind option[value='audiovisual']").await;
        c.find(Locator::Id("f-ev-name"))
            .await
            .unwrap()
            .send_keys("现场照片")
            .await
            .unwrap();
        c.find(Locator::Id("f-ev-source"))
            .await
            .unwrap()
            .send_keys("执法人员张明于现场拍摄")
            .await
            .unwrap();
        let photo = shots.join("case-filing-desktop.png");
        c.find(Locator::Id("f-ev-file"))
            .await
            .unwrap()
            .send_keys(photo.canonicalize().unwrap().to_str().unwrap())
            .await
            .unwrap();
        submit(&c, "form[action$='/evidence'] button[type=submit]").await;
        assert_eq!(app.store.case_evidence(id).await.unwrap().len(), 1);
        take_step(&c, "investigation_end", &[li]).await;
        // The proposed penalty, with the item's 裁量基准 beside it.
        click(&c, "#f-row-0").await;
        c.find(Locator::Id("f-measure"))
            .await
            .unwrap()
            .send_keys("责令改正，并处罚款")
            .await
            .unwrap();
        c.find(Locator::Id("f-fine_yuan"))
            .await
            .unwrap()
            .send_keys("5000")
            .await
            .unwrap();
        submit(&c, "form[action$='/penalty'] button[type=submit]").await;
        // The whole page, not only the first screen.
        c.set_window_size(1280, 3800).await.unwrap();
        std::fs::write(
            shots.join("case-penalty-desktop.png"),
            c.screenshot().await.unwrap(),
        )
        .unwrap();
        c.set_window_size(1280, 1400).await.unwrap();
        take_step(&c, "review", &[]).await;
        switch_user(&c, &app, "head").await;
        c.goto(&page).await.unwrap();
        take_step(&c, "notice", &[]).await;
        switch_user(&c, &app, "officer").await;
        c.goto(&page).await.unwrap();
        // The decision waits for the party's window, or its written waiver.
        c.find(Locator::Css("form[action$='/record'] textarea[name=note]"))
            .await
            .unwrap()
            .send_keys("当事人签署《放弃陈述申辩和听证权利声明书》，附卷")
            .await
            .unwrap();
        submit(&c, "form[action$='/record'] button[type=submit]").await;
        take_step(&c, "decision", &[]).await;
        switch_user(&c, &app, "leader").await;
        c.goto(&page).await.unwrap();
        std::fs::write(
            shots.join("case-decision-desktop.png"),
            c.screenshot().await.unwrap(),
        )
        .unwrap();
        take_step(&c, "service", &[]).await;
        switch_user(&c, &app, "officer").await;
        c.goto(&page).await.unwrap();
        take_step(&c, "execution", &[]).await;
        take_step(&c, "closing", &[]).await;
        // Every document of the steps taken, issued as PDF and DOCX before the case closes.
        let kinds: Vec<String> = {
            let mut v = Vec::new();
            for o in c.find_all(Locator::Css("#f-kind option")).await.unwrap() {
                v.push(o.attr("value").await.unwrap().unwrap());
            }
            v
        };
        assert!(kinds.len() >= 8, "{kinds:?}");
        for k in &kinds {
            click(&c, &format!("#f-kind option[value='{k}']")).await;
            submit(&c, "form[action$='/documents'] button[type=submit]").await;
        }
        let issued = app.store.case_documents(id).await.unwrap();
        assert_eq!(issued.len(), kinds.len());
        std::fs::create_dir_all(shots.join("documents")).unwrap();
        for d in &issued {
            let (_, name, pdf) = app.store.case_document_file(d.id, false).await.unwrap();
            std::fs::write(
                shots
                    .join("documents")
                    .join(format!("{}-{name}.pdf", d.kind)),
                pdf,
            )
            .unwrap();
        }
        c.set_window_size(1280, 3800).await.unwrap();
        std::fs::write(
            shots.join("case-documents-desktop.png"),
            c.screenshot().await.unwrap(),
        )
        .unwrap();
        c.set_window_size(1280, 1400).await.unwrap();
        switch_user(&c, &app, "head").await;
        c.goto(&page).await.unwrap();
        take_step(&c, "archive", &[]).await;
        switch_user(&c, &app, "officer").await;
        c.goto(&page).await.unwrap();
        take_step(&c, "", &[]).await;
        let text = c
            .find(Locator::Css("main"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(text.contains("已办结"), "{text}");
        c.close().await.unwrap();
    }
    let file = app.store.case_file(id).await.unwrap();
    assert!(file.case.closed_on.is_some());
    assert!(app.store.verify(&[]).await.unwrap().ok());
    // The 卷宗 of the case the browser closed verifies offline; its generated pages are
    // kept with the screenshots to be looked at.
    app.store.checkpoint_all(&app.keys).await.unwrap();
    let officer = app.login("officer").await;
    let zip = officer
        .get(app.url(&format!("/app/cases/{id}/archive.zip")))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let (ok, out) = crate::cases::verify_archive(&zip, None);
    assert!(ok, "{out}");
    std::fs::write(shots.join("archive.zip"), &zip).unwrap();
    let mut a = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    std::fs::create_dir_all(shots.join("archive")).unwrap();
    for name in ["00-封面.pdf", "01-卷内目录.pdf", "证据清单.pdf"] {
        use std::io::Read;
        let mut bytes = Vec::new();
        a.by_name(name).unwrap().read_to_end(&mut bytes).unwrap();
        std::fs::write(shots.join("archive").join(name), bytes).unwrap();
    }
}
