//! zhifa's HTTP layer: the public portal (`/`), the workbench (`/app`), the JSON API
//! (`/api/v1`) and `/healthz`.
//!
//! Handlers are thin: they parse requests into domain types, ask the one access check,
//! call the store, and render a template or JSON. Only this crate knows HTML and JSON.

mod access;
mod api;
mod assets;
mod config;
mod csrf;
mod error;
mod flowchart;
mod forms;
mod log;
mod middleware;
mod multipart;
mod pages;
mod projection;
mod qr;
mod scope;
mod session;
mod view;
mod witness;

pub use config::WebConfig;
pub use pages::case_docs::issue_case_document;

use axum::Router;
use std::sync::Arc;
use zhifa_store::Store;

/// Shared by every request.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Store,
    pub config: WebConfig,
    pub projections: projection::Projections,
    /// Asks the checkpoint signer (when the server runs one) to sign now rather than at
    /// its next tick: an archive being exported needs the case's newest entries signed.
    pub checkpoint_now: Arc<tokio::sync::Notify>,
    /// The key directory, where this node holds one (the witness endpoint cosigns with it).
    pub keys: Option<zhifa_store::keys::KeyStore>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(store: Store, config: WebConfig) -> Self {
        Self::with_keys(store, config, None)
    }

    pub fn with_keys(
        store: Store,
        config: WebConfig,
        keys: Option<zhifa_store::keys::KeyStore>,
    ) -> Self {
        AppState(Arc::new(Inner {
            store,
            config,
            projections: Default::default(),
            checkpoint_now: Arc::new(tokio::sync::Notify::new()),
            keys,
        }))
    }
}

/// The whole application: pages, API, assets, with the cross-cutting layers.
pub fn app(state: AppState) -> Router {
    if state.config.demo {
        view::DEMO.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    let (api_router, openapi) = api::router();
    let openapi = Arc::new(openapi);
    let router = Router::new()
        .merge(pages::router())
        .merge(assets::router())
        .merge(log::router())
        .merge(witness::router())
        .merge(api_router)
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(move || {
                let doc = openapi.clone();
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
        .fallback(pages::not_found)
        .with_state(state.clone());
    middleware::apply(router, state)
}

/// The OpenAPI document of `/api/v1` (also served at `/api/v1/openapi.json`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    api::router().1
}
