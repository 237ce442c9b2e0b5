//! Serving a router on a listener, with graceful shutdown and an abrupt crash.
//!
//! Connections are owned by the server future's own task set, so a crash drops every open
//! connection at once, the way a killed process would, while a shutdown lets in-flight
//! requests finish within a grace period.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// How a server stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Shutdown was requested; in-flight requests finished (or the grace period ran out).
    Shutdown,
    /// The instance crashed: every connection was dropped.
    Crashed,
}

/// Serves `router` on `listener` until `shutdown` (graceful, bounded by `grace`) or `crash`
/// (immediate) is cancelled. Each request carries `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
    crash: CancellationToken,
    grace: Duration,
) -> Stopped {
    let builder = Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = crash.cancelled() => return Stopped::Crashed,
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => {
                let (stream, remote) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let router = router.clone();
                let service = hyper::service::service_fn(move |mut request: http::Request<Incoming>| {
                    request.extensions_mut().insert(ConnectInfo::<SocketAddr>(remote));
                    router.clone().oneshot(request.map(axum::body::Body::new))
                });
                let connection = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .into_owned();
                let connection = graceful.watch(connection);
                connections.spawn(async move {
                    let _ = connection.await;
                });
            }
        }
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => Stopped::Shutdown,
        () = tokio::time::sleep(grace) => Stopped::Shutdown,
        () = crash.cancelled() => Stopped::Crashed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;

    #[tokio::test]
    async fn serves_until_shutdown_and_a_crash_drops_connections() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = Router::new().route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "done"
            }),
        );
        let shutdown = CancellationToken::new();
        let crash = CancellationToken::new();
        let server = tokio::spawn(serve(
            listener,
            router,
            shutdown.clone(),
            crash.clone(),
            Duration::from_secs(60),
        ));
        let client = reqwest_free_get(addr);
        let in_flight = tokio::spawn(client);
        tokio::time::sleep(Duration::from_millis(100)).await;
        shutdown.cancel();
        // Graceful shutdown waits for the slow request ...
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!server.is_finished());
        // ... a crash does not.
        crash.cancel();
        assert_eq!(server.await.unwrap(), Stopped::Crashed);
        assert!(
            in_flight.await.unwrap().is_err(),
            "the in-flight request was cut"
        );
    }

    async fn reqwest_free_get(addr: SocketAddr) -> std::io::Result<String> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream
            .write_all(b"GET /slow HTTP/1.1\r\nhost: x\r\n\r\n")
            .await?;
        let mut buffer = Vec::new();
        stream.read_to_end(&mut buffer).await?;
        if buffer.is_empty() {
            return Err(std::io::Error::other(
                "connection closed without a response",
            ));
        }
        Ok(String::from_utf8_lossy(&buffer).into_owned())
    }
}
