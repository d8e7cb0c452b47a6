//! The admin console: a single-page app served at `/console`, built from
//! `host/server/console` (`npm ci && npm run build`) into `console/dist`,
//! which is committed, so building the server never needs node. The page
//! calls the same authenticated JSON API as any client; these routes
//! serve only its three static files and are not part of the API
//! document.

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The page, its script and its stylesheet, as built.
const INDEX: &[u8] = include_bytes!("../console/dist/index.html");
const SCRIPT: &[u8] = include_bytes!("../console/dist/console.js");
const STYLE: &[u8] = include_bytes!("../console/dist/console.css");

/// What the page may load and call: its own files and the API on the same
/// origin, nothing else. Inline styles are allowed because the editor
/// (CodeMirror) writes its theme into `<style>` elements at run time;
/// scripts stay limited to the served file.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The console's routes, for the service's router.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/console",
            get(|| async { asset("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/console/",
            get(|| async { asset("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/console/console.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/console/console.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
}

/// One static file with the headers every console response carries. The
/// file names do not change between builds, so browsers revalidate.
fn asset(content_type: &'static str, body: &'static [u8]) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    let set = |headers: &mut axum::http::HeaderMap, name, value| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(headers, header::CONTENT_TYPE, content_type);
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        CONTENT_SECURITY_POLICY,
    );
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(headers, header::CACHE_CONTROL, "no-cache");
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page loads the files these routes serve, under these names
    /// (the build's output names are fixed in vite.config.ts).
    #[test]
    fn the_page_names_the_served_files() {
        let page = std::str::from_utf8(INDEX).unwrap();
        assert!(page.contains("src=\"/console/console.js\""), "{page}");
        assert!(page.contains("href=\"/console/console.css\""), "{page}");
        assert!(!SCRIPT.is_empty() && !STYLE.is_empty());
    }
}
