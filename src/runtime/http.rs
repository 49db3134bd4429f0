//! The optional operator endpoint: `GET /metrics` (Prometheus text) and `GET /healthz` (fails
//! when the last successful sync is too old). Off unless `[metrics] enabled = true`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::metrics::Metrics;

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Binds `addr` now (so a port in use is a clear start-up error) and serves until shutdown.
/// Returns the bound address (port 0 picks a free one).
pub async fn start(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    max_sync_age: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for metrics on {addr} ([metrics] listen)"))?;
    let bound = listener.local_addr()?;
    tracing::info!(%bound, "metrics and health on http://{bound}/metrics and /healthz");
    tokio::spawn(async move {
        loop {
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::warn!(error = %e, "metrics listener: accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                _ = shutdown.changed() => return,
            };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let metrics = metrics.clone();
                    async move { Ok::<_, Infallible>(respond(&req, &metrics, max_sync_age)) }
                });
                if let Err(e) = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    tracing::debug!(error = %e, "metrics connection ended with an error");
                }
            });
        }
    });
    Ok(bound)
}

fn respond(
    req: &Request<Incoming>,
    metrics: &Metrics,
    max_sync_age: Duration,
) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "GET only\n".into());
    }
    match req.uri().path() {
        "/metrics" => {
            let mut r = text(StatusCode::OK, metrics.encode());
            if let Ok(v) = hyper::header::HeaderValue::from_str(OPENMETRICS) {
                r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
            }
            r
        }
        "/healthz" => {
            let (status, body) = health(metrics.since_last_sync(), max_sync_age);
            text(status, body)
        }
        _ => text(StatusCode::NOT_FOUND, "try /metrics or /healthz\n".into()),
    }
}

/// Healthy while the last successful sync is at most `max_age` old.
fn health(since_last_sync: Option<Duration>, max_age: Duration) -> (StatusCode, String) {
    match since_last_sync {
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not synced yet\n".to_string(),
        ),
        Some(age) if age > max_age => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "last successful sync {} s ago (limit {} s)\n",
                age.as_secs(),
                max_age.as_secs()
            ),
        ),
        Some(age) => (
            StatusCode::OK,
            format!("ok: last successful sync {} s ago\n", age.as_secs()),
        ),
    }
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_fails_before_the_first_sync_and_when_stale() {
        let max = Duration::from_secs(300);
        assert_eq!(health(None, max).0, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(health(Some(Duration::from_secs(10)), max).0, StatusCode::OK);
        let (status, body) = health(Some(Duration::from_secs(301)), max);
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("301 s ago"), "{body}");
    }
}
