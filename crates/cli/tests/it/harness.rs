//! A running zhifa with the demo township, and a client that behaves like a browser.

use reqwest::redirect::Policy;
use reqwest::{Client, Response, StatusCode};
use std::net::SocketAddr;
use zhifa_store::testing::TestDb;
use zhifa_store::{Actor, Store};
use zhifa_web::{AppState, WebConfig};

pub const PASSWORD: &str = "Zhifa@2026";

pub struct TestApp {
    pub base: String,
    /// The signing keys of this app's logs (tests sign new checkpoints with them).
    pub keys: zhifa_store::keys::KeyStore,
    _key_dir: tempfile::TempDir,
    pub store: Store,
    /// Owns the database for the test's duration (dropped last, cleaning up).
    _db: TestDb,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TestApp {
    pub async fn start(db: TestDb) -> TestApp {
        Self::start_with(db, WebConfig::default()).await
    }

    pub async fn start_with(db: TestDb, config: WebConfig) -> TestApp {
        zhifa::demo::ensure(&db.store)
            .await
            .expect("demo data loads");
        let key_dir = tempfile::tempdir().unwrap();
        let keys = zhifa_store::keys::KeyStore::open(key_dir.path()).unwrap();
        db.store
            .checkpoint_all(&keys)
            .await
            .expect("checkpoints signed");
        let store = db.store.clone();
        let app = zhifa_web::app(AppState::new(store.clone(), config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
        TestApp {
            base: format!("http://{addr}"),
            keys,
            _key_dir: key_dir,
            store,
            _db: db,
            server,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A browser-like client: keeps cookies, does not follow redirects (tests look at them).
    pub fn client(&self) -> Client {
        Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .build()
            .unwrap()
    }

    pub async fn login(&self, username: &str) -> Client {
        self.login_with(username, PASSWORD).await
    }

    pub async fn login_with(&self, username: &str, password: &str) -> Client {
        let c = self.client();
        let r = self.try_login(&c, username, password).await;
        let status = r.status();
        assert_eq!(
            status,
            StatusCode::SEE_OTHER,
            "login of {username} failed: {}",
            r.text().await.unwrap_or_default()
        );
        c
    }

    pub async fn try_login(&self, c: &Client, username: &str, password: &str) -> Response {
        let page = c
            .get(self.url("/login"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let token = csrf(&page);
        c.post(self.url("/login"))
            .form(&[
                ("username", username),
                ("password", password),
                ("csrf_token", &token),
                ("next", "/app"),
            ])
            .send()
            .await
            .unwrap()
    }

    /// GETs a page and returns its CSRF token (from the logout form in the frame).
    pub async fn csrf_for(&self, c: &Client, path: &str) -> String {
        let page = c
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        csrf(&page)
    }

    pub async fn api_token(&self, username: &str) -> String {
        let terms = zhifa_domain::token::TokenTerms::parse("", false, zhifa_store::now_ms())
            .expect("the default terms");
        self.api_token_on(username, terms).await.1
    }

    /// A token of `username` on the given terms: its id and the token.
    pub async fn api_token_on(
        &self,
        username: &str,
        terms: zhifa_domain::token::TokenTerms,
    ) -> (i64, String) {
        let user = self.store.user_by_username(username).await.unwrap();
        let token = format!("zf_{}", zhifa_store::accounts::new_secret());
        let mut tx = self.store.write(Actor::System("test")).await.unwrap();
        let id = tx
            .create_api_token(&user, "test", &token, &terms)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        (id, token)
    }

    pub async fn agency_id(&self) -> i64 {
        self.store.agency_by_slug("zhutang").await.unwrap().id
    }

    pub async fn department_id(&self, name: &str) -> i64 {
        let a = self.agency_id().await;
        self.store
            .list_departments(a)
            .await
            .unwrap()
            .into_iter()
            .find(|d| d.name == name)
            .unwrap()
            .id
    }
}

/// The value of the first `csrf_token` hidden input of a page.
pub fn csrf(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("page has a csrf_token field") + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}
