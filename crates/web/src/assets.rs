//! Assets served by zhifa itself (no CDN: government intranets have no internet).

use crate::AppState;
use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

const CSS: &str = include_str!("../assets/zhifa.css");
const FAVICON: &str = include_str!("../assets/favicon.svg");
const VERIFY_JS: &str = include_str!("../assets/verify.js");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/static/zhifa.css", get(css))
        .route("/static/verify.js", get(verify_js))
        .route("/favicon.ico", get(favicon))
        .route("/static/favicon.svg", get(favicon))
        .route("/robots.txt", get(robots))
}

async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
}

async fn verify_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        VERIFY_JS,
    )
}

async fn favicon() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        FAVICON,
    )
}

async fn robots() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "User-agent: *\nDisallow: /app/\nDisallow: /api/\n",
    )
}
