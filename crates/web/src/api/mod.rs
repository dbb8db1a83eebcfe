//! The JSON API under `/api/v1`, authenticated by `Authorization: Bearer <token>`.
//! Routes are registered through utoipa-axum, so the OpenAPI document is generated from
//! the very handlers that serve them and cannot drift.

mod calendar;
mod extract;
mod org;
mod views;

use crate::AppState;
use axum::Router;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

pub fn router() -> (Router<AppState>, OpenApi) {
    let (router, mut doc) = calendar::routes(org::routes(OpenApiRouter::new())).split_for_parts();
    doc.info.title = "zhifa API".into();
    doc.info.version = env!("CARGO_PKG_VERSION").into();
    doc.info.description = Some(
        "zhifa 行政执法平台接口。认证：`Authorization: Bearer <令牌>`（令牌由 `zhifa token create --user NAME` 创建）。错误统一为 `{\"error\": {\"code\", \"message\", \"fields\"}}`。".into(),
    );
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("API 令牌"))
                .build(),
        ),
    );
    (router, doc)
}
