//! The server's edges against slow clients: a request head that never ends, a connection that
//! says nothing, and a body that stops coming are cut off within their limits, and the server
//! answers everyone else meanwhile.

mod common;

use common::{Db, TestApp};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the server closes the connection (or `within` passes); what it said.
async fn until_closed(conn: &mut TcpStream, within: Duration) -> Option<String> {
    let mut got = vec![];
    let mut buf = [0u8; 4096];
    let ended = tokio::time::timeout(within, async {
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    ended
        .ok()
        .map(|()| String::from_utf8_lossy(&got).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_heads_and_stalled_bodies_are_cut_off() {
    let app = TestApp::start(Db::Sqlite).await;
    app.seed().await;
    let limits = natlis::serve::Limits {
        head: Duration::from_secs(1),
        body_idle: Duration::from_secs(1),
        body_total: Duration::from_secs(3),
    };
    let state = natlis::api::AppState::new(
        app.store.clone(),
        chrono::FixedOffset::east_opt(8 * 3600).unwrap(),
    )
    .with_limits(limits);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(natlis::launch(state, listener, std::future::pending()));

    // 200 connections: half send an unfinished head, half send nothing at all.
    let started = Instant::now();
    let mut held = vec![];
    for i in 0..200 {
        let mut c = TcpStream::connect(addr).await.unwrap();
        if i % 2 == 0 {
            c.write_all(b"GET /api/v1/labs HTTP/1.1\r\nHost: lab\r\nX-Slow: ")
                .await
                .unwrap();
        }
        held.push(c);
    }
    // Everyone else is answered meanwhile.
    let r = reqwest::get(format!("http://{addr}/api/v1/labs"))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    for (i, c) in held.iter_mut().enumerate() {
        assert!(
            until_closed(c, Duration::from_secs(5)).await.is_some(),
            "slow connection {i} is closed by the server"
        );
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(8),
        "closed after the head limit, not held: {took:?}"
    );

    // A kept-alive connection that goes quiet after an answer is closed too.
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(b"GET /api/v1/labs HTTP/1.1\r\nHost: lab\r\n\r\n")
        .await
        .unwrap();
    let said = until_closed(&mut c, Duration::from_secs(5)).await.unwrap();
    assert!(said.starts_with("HTTP/1.1 200"), "{said}");

    // A body that stops coming: the request fails, named, and the connection is let go.
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(
        format!(
            "POST /api/v1/persons HTTP/1.1\r\nHost: lab\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{{\"doc_type\":",
            app.token
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let said = until_closed(&mut c, Duration::from_secs(5)).await.unwrap();
    assert!(said.starts_with("HTTP/1.1 400"), "{said}");
    assert!(said.contains("stopped coming"), "{said}");

    // A body that keeps trickling but never ends within the total limit.
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(
        format!(
            "POST /api/v1/persons HTTP/1.1\r\nHost: lab\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: 2000\r\n\r\n",
            app.token
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let trickle = Instant::now();
    let mut said = None;
    while trickle.elapsed() < Duration::from_secs(6) {
        if c.write_all(b" ").await.is_err() {
            break;
        }
        if let Ok(Some(s)) = tokio::time::timeout(
            Duration::from_millis(500),
            until_closed(&mut c, Duration::from_millis(400)),
        )
        .await
        {
            said = Some(s);
            break;
        }
    }
    let said = said.expect("the trickling request is answered and closed");
    assert!(said.starts_with("HTTP/1.1 400"), "{said}");
    assert!(said.contains("in time"), "{said}");
}
