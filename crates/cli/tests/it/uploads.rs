//! Multipart uploads (evidence, the Excel imports): the session, the form's CSRF token and
//! the case's scope are checked before the file part is read — a refused upload is
//! answered while its file is still unsent — and an empty file or a second file part is
//! refused with a message, nothing stored.

use crate::harness::{TestApp, csrf};
use reqwest::StatusCode;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;
use zhifa_store::on_both_backends;
use zhifa_store::testing::TestDb;

on_both_backends!(
    an_upload_is_refused_before_its_file_is_read,
    an_empty_file_or_a_second_file_is_refused_and_nothing_stored,
);

const BOUNDARY: &str = "zhifa-test-boundary-7f3a";

/// The size the request announces for the file it never finishes sending (under the
/// 20 MB evidence limit, so only a check can stop the server from waiting for it).
const ANNOUNCED_FILE: usize = 18 * 1024 * 1024;

/// Logs in through a cookie jar and returns the `Cookie` header the browser would send
/// and the session's CSRF token.
async fn session(app: &TestApp, user: &str) -> (String, String) {
    use reqwest::cookie::CookieStore;
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let c = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = app.try_login(&c, user, crate::harness::PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "login of {user}");
    let token = app.csrf_for(&c, "/app").await;
    let url = app.url("/app").parse().unwrap();
    let cookie = jar
        .cookies(&url)
        .expect("a session cookie")
        .to_str()
        .unwrap()
        .to_owned();
    (cookie, token)
}

/// A multipart text part.
fn text_part(name: &str, value: &str) -> String {
    format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
}

/// The head of a file part, up to where its bytes begin.
fn file_head(name: &str, file_name: &str) -> String {
    format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
}

/// Sends a POST whose body announces `preamble` followed by a large file, but sends only
/// the preamble and a first slice of the file, then waits for an answer without sending
/// more. Returns the status line and the body, or `None` when the server kept waiting
/// for the file (it would have read it).
async fn post_unfinished(
    app: &TestApp,
    path: &str,
    cookie: Option<&str>,
    preamble: String,
) -> Option<(u16, String)> {
    let addr = app.base.trim_start_matches("http://").to_owned();
    let path = path.to_owned();
    let cookie = cookie.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        let tail = format!("\r\n--{BOUNDARY}--\r\n");
        let length = preamble.len() + ANNOUNCED_FILE + tail.len();
        let mut head = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {length}\r\n"
        );
        if let Some(c) = cookie {
            head.push_str(&format!("Cookie: {c}\r\n"));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes()).unwrap();
        // A server that refuses at once answers and closes while the rest is being sent:
        // then writing fails (broken pipe), which is the point; the answer is read below.
        let slice = vec![b'x'; 4 * 1024];
        let _ = s.write_all(preamble.as_bytes()).and_then(|()| {
            (0..16).try_for_each(|_| s.write_all(&slice))
        });
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut answer = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    // The whole answer: the server closes, or its body is complete.
                    let text = String::from_utf8_lossy(&answer);
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap())
                            })
                            .unwrap_or(0);
                        if body.len() >= length {
                            break;
                        }
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    if answer.is_empty() {
                        return None;
                    }
                    break;
                }
                // The close after a refusal may come as a reset once the answer is in.
                Err(e)
                    if e.kind() == std::io::ErrorKind::ConnectionReset && !answer.is_empty() =>
                {
                    break;
                }
                Err(e) => panic!("reading the answer: {e}"),
            }
        }
        let text = String::from_utf8_lossy(&answer).into_owned();
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        Some((status, body))
    })
    .await
    .unwrap()
}

/// An open case of 综合行政执法大队 (the officer's department, not the market officer's).
async fn open_case_of_the_brigade(app: &TestApp) -> i64 {
    let dept = app.department_id("综合行政执法大队").await;
    let (cases, _) = app
        .store
        .list_cases(app.agency_id().await, &Default::default(), 100, 0)
        .await
        .unwrap();
    cases
        .iter()
        .find(|c| c.department_id == dept && c.closed_on.is_none())
        .expect("the demo has an open case of the brigade")
        .id
}

async fn an_upload_is_refused_before_its_file_is_read(db: TestDb) {
    let app = TestApp::start(db).await;
    let id = open_case_of_the_brigade(&app).await;
    let evidence = format!("/app/cases/{id}/evidence");
    let (officer, officer_token) = session(&app, "officer").await;
    let (market, market_token) = session(&app, "market").await;
    let (admin, admin_token) = session(&app, "admin").await;
    let fields = |token: &str| {
        let mut p = text_part("csrf_token", token);
        p.push_str(&text_part("kind", "documentary"));
        p.push_str(&text_part("name", "现场照片"));
        p.push_str(&text_part("source", "执法人员现场拍摄"));
        p.push_str(&text_part(
            "collected_on",
            &zhifa_store::today_beijing().to_string(),
        ));
        p.push_str(&file_head("file", "photo.jpg"));
        p
    };
    // Another session's token is not this one's.
    let (_, other_token) = session(&app, "officer").await;
    let before = app.store.case_evidence(id).await.unwrap().len();

    // No session: sent to the login page at once.
    let (status, _) = post_unfinished(&app, &evidence, None, fields(&officer_token))
        .await
        .expect("refused without a session before the file");
    assert_eq!(status, 303);

    // A forged token, or none before the file: refused before the file is read.
    for forged in ["forged", other_token.as_str()] {
        let (status, body) = post_unfinished(&app, &evidence, Some(&officer), fields(forged))
            .await
            .expect("a forged token is refused before the file is read");
        assert_eq!(status, 403, "{body}");
        assert!(body.contains("CSRF"), "{body}");
    }
    let no_token = {
        let mut p = text_part("kind", "documentary");
        p.push_str(&file_head("file", "photo.jpg"));
        p
    };
    let (status, body) = post_unfinished(&app, &evidence, Some(&officer), no_token)
        .await
        .expect("a file before the token is refused before it is read");
    assert_eq!(status, 403, "{body}");
    // The token placed after the file does not help: the file is not read to find it.
    let token_after = {
        let mut p = file_head("file", "photo.jpg");
        p.push_str("x\r\n");
        p.push_str(&text_part("csrf_token", &officer_token));
        p.push_str(&file_head("file2", "more.jpg"));
        p
    };
    let (status, _) = post_unfinished(&app, &evidence, Some(&officer), token_after)
        .await
        .expect("a file before the token is refused");
    assert_eq!(status, 403);

    // A case outside the user's department: refused before the file is read, even with
    // the user's own valid token.
    let (status, body) = post_unfinished(&app, &evidence, Some(&market), fields(&market_token))
        .await
        .expect("a case out of scope is refused before the file is read");
    assert!(status == 403 || status == 404, "{status} {body}");
    // An administrator has no case pages at all.
    let (status, _) = post_unfinished(&app, &evidence, Some(&admin), fields(&admin_token))
        .await
        .expect("refused before the file is read");
    assert!(status == 403 || status == 404, "{status}");

    // The Excel imports too: a forged token is refused before the workbook is read.
    let agency = app.agency_id().await;
    for path in [
        format!("/app/admin/items/import?agency={agency}"),
        format!("/app/admin/lists/spot-checks/import?agency={agency}"),
    ] {
        let mut p = text_part("csrf_token", "forged");
        p.push_str(&text_part("step", "preview"));
        p.push_str(&file_head("file", "items.xlsx"));
        let (status, body) = post_unfinished(&app, &path, Some(&admin), p)
            .await
            .unwrap_or_else(|| panic!("{path}: a forged token is refused before the file"));
        assert_eq!(status, 403, "{path}: {body}");
    }

    // With a valid session, token and scope the server does wait for the file.
    assert!(
        post_unfinished(&app, &evidence, Some(&officer), fields(&officer_token))
            .await
            .is_none(),
        "a good upload is read to its end"
    );
    assert_eq!(app.store.case_evidence(id).await.unwrap().len(), before);
    assert!(app.store.verify(&[]).await.unwrap().ok());
}

async fn an_empty_file_or_a_second_file_is_refused_and_nothing_stored(db: TestDb) {
    let app = TestApp::start(db).await;
    let id = open_case_of_the_brigade(&app).await;
    let officer = app.login("officer").await;
    let before = app.store.case_evidence(id).await.unwrap().len();
    let entries = app.store.journal_count("case_evidence.add").await.unwrap();
    let form = |token: String| {
        reqwest::multipart::Form::new()
            .text("csrf_token", token)
            .text("kind", "documentary")
            .text("name", "现场照片")
            .text("source", "执法人员现场拍摄")
            .text("collected_on", zhifa_store::today_beijing().to_string())
    };
    let post = |form: reqwest::multipart::Form| {
        let officer = officer.clone();
        let url = app.url(&format!("/app/cases/{id}/evidence"));
        async move {
            let r = officer.post(url).multipart(form).send().await.unwrap();
            (r.status(), r.text().await.unwrap())
        }
    };
    let token = app.csrf_for(&officer, &format!("/app/cases/{id}")).await;

    // An empty file is not "no file": it is refused, naming it.
    let (status, body) = post(form(token.clone()).part(
        "file",
        reqwest::multipart::Part::bytes(Vec::new()).file_name("现场照片.jpg"),
    ))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body.contains("现场照片.jpg") && body.contains("空文件"),
        "{body}"
    );

    // A second file part is refused, not dropped.
    let (status, body) = post(
        form(token.clone())
            .part(
                "file",
                reqwest::multipart::Part::bytes(b"first".to_vec()).file_name("a.jpg"),
            )
            .part(
                "file",
                reqwest::multipart::Part::bytes(b"second".to_vec()).file_name("b.jpg"),
            ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("一个文件"), "{body}");
    assert_eq!(app.store.case_evidence(id).await.unwrap().len(), before);
    assert_eq!(
        app.store.journal_count("case_evidence.add").await.unwrap(),
        entries
    );

    // No file chosen (the browser's empty part without a name) is still allowed.
    let (status, body) = post(form(token.clone()).part(
        "file",
        reqwest::multipart::Part::bytes(Vec::new()).file_name(""),
    ))
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(app.store.case_evidence(id).await.unwrap().len(), before + 1);

    // The Excel imports: an empty workbook or two are refused with a message.
    let admin = app.login("admin").await;
    let agency = app.agency_id().await;
    let path = format!("/app/admin/items/import?agency={agency}");
    let token = csrf(
        &admin
            .get(app.url(&path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    let import = |file: reqwest::multipart::Form| {
        let admin = admin.clone();
        let url = app.url(&path);
        async move {
            let r = admin.post(url).multipart(file).send().await.unwrap();
            (r.status(), r.text().await.unwrap())
        }
    };
    let base = || {
        reqwest::multipart::Form::new()
            .text("csrf_token", token.clone())
            .text("step", "preview")
    };
    let (_, body) = import(base().part(
        "file",
        reqwest::multipart::Part::bytes(Vec::new()).file_name("事项.xlsx"),
    ))
    .await;
    assert!(
        body.contains("事项.xlsx") && body.contains("空文件"),
        "{body}"
    );
    let (status, body) = import(
        base()
            .part(
                "file",
                reqwest::multipart::Part::bytes(b"a".to_vec()).file_name("a.xlsx"),
            )
            .part(
                "file",
                reqwest::multipart::Part::bytes(b"b".to_vec()).file_name("b.xlsx"),
            ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("一个文件"), "{body}");
    assert!(app.store.verify(&[]).await.unwrap().ok());
}
