//! One JSON-RPC endpoint: calls sent as one HTTP request (a JSON-RPC batch), with a timeout and
//! a size limit, every answer checked before use.
//!
//! Why not alloy's provider here: a decision needs many reads in one round trip, answers
//! bounded in size, and each failure typed with the endpoint and method it came from. A batch
//! is one `POST` of a JSON array; the answers are matched by id, never by position.

use std::{
    str::FromStr,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use alloy_primitives::{B256, Bytes, U256};
use serde_json::{Value, json};

use crate::{error::EndpointError, settings::EndpointUrl};

/// One JSON-RPC call.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The method, e.g. `eth_getStorageAt`.
    pub method: &'static str,
    /// Its positional parameters.
    pub params: Value,
}

impl Call {
    /// A call of `method` with `params` (a JSON array).
    pub fn new(method: &'static str, params: Value) -> Self {
        Self { method, params }
    }
}

/// A client of one endpoint.
#[derive(Debug)]
pub struct EndpointClient {
    url: EndpointUrl,
    http: reqwest::Client,
    timeout: Duration,
    max_response_bytes: usize,
    round_trips: AtomicU64,
    calls: AtomicU64,
}

impl EndpointClient {
    /// A client of `url`; nothing is sent yet.
    pub fn new(
        url: EndpointUrl,
        timeout: Duration,
        max_response_bytes: usize,
    ) -> Result<Self, EndpointError> {
        signgate_simulator::evm::install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout)
            // A JSON-RPC endpoint has no business redirecting a POST; following one could send
            // the request (and a key in its URL) elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| EndpointError::Transport(e.to_string()))?;
        Ok(Self {
            url,
            http,
            timeout,
            max_response_bytes,
            round_trips: AtomicU64::new(0),
            calls: AtomicU64::new(0),
        })
    }

    /// The endpoint's label (scheme, host, port).
    pub fn label(&self) -> &str {
        self.url.label()
    }

    /// HTTP requests sent so far (each one a round trip).
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// JSON-RPC calls sent so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Sends `calls` in one HTTP request and returns each call's result in order. The outer
    /// error is the request's (transport, timeout, unusable envelope); an inner one is a call's
    /// own (a JSON-RPC error or a missing answer).
    pub async fn batch(
        &self,
        calls: &[Call],
    ) -> Result<Vec<Result<Value, EndpointError>>, EndpointError> {
        if calls.is_empty() {
            return Ok(Vec::new());
        }
        let body: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(id, c)| json!({"jsonrpc": "2.0", "id": id, "method": c.method, "params": c.params}))
            .collect();
        let body = if let [one] = body.as_slice() {
            one.clone()
        } else {
            Value::Array(body)
        };
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        self.calls.fetch_add(
            u64::try_from(calls.len()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        let timeout_ms = u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX);
        let text = tokio::time::timeout(self.timeout, self.post(&body))
            .await
            .map_err(|_| EndpointError::Timeout { timeout_ms })??;
        parse_batch_answer(calls, &text)
    }

    async fn post(&self, body: &Value) -> Result<Vec<u8>, EndpointError> {
        let timeout_ms = u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX);
        let transport = |e: reqwest::Error| {
            if e.is_timeout() {
                EndpointError::Timeout { timeout_ms }
            } else {
                EndpointError::Transport(without_url(&e))
            }
        };
        let mut resp = self
            .http
            .post(self.url.url().clone())
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(transport)?;
        if !resp.status().is_success() {
            return Err(EndpointError::Transport(format!(
                "HTTP status {}",
                resp.status()
            )));
        }
        let limit = self.max_response_bytes;
        if resp
            .content_length()
            .is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX))
        {
            return Err(EndpointError::TooLarge { limit });
        }
        let mut out = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            if out.len().saturating_add(chunk.len()) > limit {
                return Err(EndpointError::TooLarge { limit });
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }
}

/// Parses the answer to a batch of `calls`: a JSON array (or one object, for a single call) of
/// JSON-RPC responses matched to the calls by id, never by position. The outer error is the
/// envelope's (not JSON, an unknown or missing id, a batch-level error); an inner one is a
/// call's own (its JSON-RPC error, or no answer for it). Pure, so it is fuzzed as it runs.
pub fn parse_batch_answer(
    calls: &[Call],
    text: &[u8],
) -> Result<Vec<Result<Value, EndpointError>>, EndpointError> {
    let answer: Value = serde_json::from_slice(text).map_err(|e| EndpointError::Malformed {
        method: "batch".into(),
        detail: format!("not JSON: {e}"),
    })?;
    let answers = match answer {
        Value::Array(a) => a,
        single @ Value::Object(_) => vec![single],
        _ => {
            return Err(EndpointError::Malformed {
                method: "batch".into(),
                detail: "neither an object nor an array".into(),
            });
        }
    };
    let mut out: Vec<Option<Result<Value, EndpointError>>> = vec![None; calls.len()];
    for a in answers {
        let Some(id) = a.get("id").and_then(Value::as_u64) else {
            // A batch-level error (e.g. "batch not supported") carries no id.
            if let Some(err) = a.get("error") {
                return Err(rpc_error("batch", err));
            }
            return Err(EndpointError::Malformed {
                method: "batch".into(),
                detail: "an answer without a numeric id".into(),
            });
        };
        let Some((slot, call)) = usize::try_from(id)
            .ok()
            .and_then(|i| out.get_mut(i).zip(calls.get(i)))
        else {
            return Err(EndpointError::Malformed {
                method: "batch".into(),
                detail: format!("an answer with unknown id {id}"),
            });
        };
        *slot = Some(match (a.get("result"), a.get("error")) {
            (_, Some(err)) if !err.is_null() => Err(rpc_error(call.method, err)),
            (Some(result), _) => Ok(result.clone()),
            _ => Err(EndpointError::Malformed {
                method: call.method.into(),
                detail: "neither result nor error".into(),
            }),
        });
    }
    Ok(out
        .into_iter()
        .zip(calls)
        .map(|(a, c)| {
            a.unwrap_or_else(|| {
                Err(EndpointError::Malformed {
                    method: c.method.into(),
                    detail: "no answer in the batch".into(),
                })
            })
        })
        .collect())
}

/// reqwest's error in words without its URL (it may hold an API key): the kind of failure and
/// the underlying cause.
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "reading the answer failed"
    } else if e.is_request() {
        "sending the request failed"
    } else {
        "request failed"
    };
    match std::error::Error::source(e) {
        Some(source) => format!("{kind}: {source}"),
        None => kind.to_owned(),
    }
}

fn rpc_error(method: &str, err: &Value) -> EndpointError {
    EndpointError::Rpc {
        method: method.into(),
        code: err.get("code").and_then(Value::as_i64).unwrap_or_default(),
        message: err
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("(no message)")
            .chars()
            .take(300)
            .collect(),
    }
}

/// Strict readers of JSON-RPC values: a value of the wrong shape is an error naming the method.
pub mod read {
    use super::*;

    fn bad(method: &str, what: &str, v: &Value) -> EndpointError {
        let shown: String = v.to_string().chars().take(80).collect();
        EndpointError::Malformed {
            method: method.into(),
            detail: format!("expected {what}, got {shown}"),
        }
    }

    /// A hex quantity that fits 256 bits.
    pub fn u256(method: &str, v: &Value) -> Result<U256, EndpointError> {
        v.as_str()
            .filter(|s| s.starts_with("0x") && s.len() <= 66 && s.len() > 2)
            .and_then(|s| U256::from_str_radix(&s[2..], 16).ok())
            .ok_or_else(|| bad(method, "a hex quantity", v))
    }

    /// A hex quantity that fits 64 bits.
    pub fn u64(method: &str, v: &Value) -> Result<u64, EndpointError> {
        u256(method, v)
            .ok()
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| bad(method, "a 64-bit hex quantity", v))
    }

    /// Hex data.
    pub fn bytes(method: &str, v: &Value) -> Result<Bytes, EndpointError> {
        v.as_str()
            .and_then(|s| Bytes::from_str(s).ok())
            .ok_or_else(|| bad(method, "hex data", v))
    }

    /// A 32-byte hash.
    pub fn b256(method: &str, v: &Value) -> Result<B256, EndpointError> {
        v.as_str()
            .and_then(|s| B256::from_str(s).ok())
            .ok_or_else(|| bad(method, "a 32-byte hash", v))
    }

    /// A storage word (`eth_getStorageAt` answers 32 bytes; some nodes answer a quantity).
    pub fn word(method: &str, v: &Value) -> Result<U256, EndpointError> {
        let s = v.as_str().ok_or_else(|| bad(method, "a storage word", v))?;
        if s == "0x" {
            // Some nodes (ganache) answer an empty slot with no digits at all.
            return Ok(U256::ZERO);
        }
        if s.len() == 66 {
            b256(method, v).map(|b| U256::from_be_bytes(b.0))
        } else {
            u256(method, v)
        }
    }

    /// A field of a JSON object.
    pub fn field<'a>(method: &str, v: &'a Value, name: &str) -> Result<&'a Value, EndpointError> {
        v.get(name)
            .ok_or_else(|| bad(method, &format!("an object with `{name}`"), v))
    }
}

#[cfg(test)]
mod tests {
    use super::read;
    use serde_json::json;

    #[test]
    fn readers_refuse_what_is_not_the_expected_shape() {
        assert_eq!(read::u64("m", &json!("0x10")).unwrap(), 16);
        assert!(read::u64("m", &json!("16")).is_err());
        assert!(read::u64("m", &json!(16)).is_err());
        assert!(read::u64("m", &json!("0x")).is_err());
        assert!(read::u64("m", &json!(format!("0x1{}", "0".repeat(16)))).is_err());
        assert!(read::u256("m", &json!(format!("0x{}", "f".repeat(65)))).is_err());
        assert!(read::bytes("m", &json!("0xzz")).is_err());
        assert_eq!(
            read::word("m", &json!(format!("0x{}01", "0".repeat(62)))).unwrap(),
            alloy_primitives::U256::from(1)
        );
        assert!(read::b256("m", &json!("0x12")).is_err());
        assert_eq!(
            read::word("m", &json!("0x")).unwrap(),
            alloy_primitives::U256::ZERO
        );
        assert!(read::u256("m", &json!("0x")).is_err());
    }
}
