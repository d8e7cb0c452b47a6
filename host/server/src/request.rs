//! Reading request bodies: JSON only (415 otherwise), malformed JSON a
//! 400, the wrong shape a 422, oversized bodies a 413.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

/// A handler's raw body, or why it could not be read.
pub(crate) type Body = Result<Bytes, BytesRejection>;

/// Refuses a body that does not say it is JSON (415), so a client sending
/// a form or plain text learns so instead of a confusing parse error.
pub(crate) fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media == "application/json"
        || (media.starts_with("application/") && media.ends_with("+json"))
    {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "this endpoint takes application/json, not `{}`",
                if content_type.is_empty() {
                    "(no Content-Type)"
                } else {
                    content_type
                }
            ),
        ))
    }
}

/// The body, or a JSON error for an oversized or unreadable one.
pub(crate) fn body(b: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    b.map_err(|e| {
        let status = e.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "body_too_large"
        } else {
            "bad_body"
        };
        ApiError::new(status, code, e.body_text())
    })
}

/// Parses a JSON body: malformed JSON is a 400, a well-formed body of the
/// wrong shape (unknown or missing fields, wrong types) a 422.
pub(crate) fn json<T: DeserializeOwned>(b: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    parse_json(&body(b)?)
}

/// Parses JSON bytes as in [`json`]; an array is never read as an object.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => {
                ApiError::unprocessable("invalid_body", format!("invalid request body: {e}"))
            }
            _ => ApiError::bad_request(format!("malformed JSON: {e}")),
        })?;
    integral_numbers_as_integers(&mut value);
    crate::strict_json::from_value(value)
        .map_err(|e| ApiError::unprocessable("invalid_body", format!("invalid request body: {e}")))
}

/// Reads `3.0` as the integer `3`, as JSON Schema does (an integer is any
/// number with a zero fractional part). Numbers with a fraction stay
/// fractional, and fields that take integers still refuse them.
pub(crate) fn integral_numbers_as_integers(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.fract() == 0.0 {
                if f >= 0.0 && f < u64::MAX as f64 && (f as u64) as f64 == f {
                    *v = serde_json::Value::from(f as u64);
                } else if f < 0.0 && f >= i64::MIN as f64 && (f as i64) as f64 == f {
                    *v = serde_json::Value::from(f as i64);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(integral_numbers_as_integers),
        serde_json::Value::Object(fields) => {
            fields.values_mut().for_each(integral_numbers_as_integers)
        }
        _ => {}
    }
}
