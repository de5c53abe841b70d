//! The console's one stylesheet and one script, compiled into the binary and served from its
//! own origin (the Content-Security-Policy allows nothing else).

use axum::{
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};

pub(super) const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut res = body.into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

/// `GET /static/console.css`.
pub(super) async fn stylesheet() -> Response {
    asset(CSS, "text/css; charset=utf-8")
}

/// `GET /static/console.js`.
pub(super) async fn script() -> Response {
    asset(JS, "text/javascript; charset=utf-8")
}
