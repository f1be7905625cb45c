//! A browser for the page tests: no automatic redirects, the session cookie and CSRF token kept
//! by hand, htmx requests as htmx sends them.

use super::TestApp;
use natlis::domain::policy::Role;
use reqwest::redirect::Policy;

/// A browser: no automatic redirects, the session cookie kept by hand.
pub struct Browser {
    pub app: TestApp,
    pub client: reqwest::Client,
    pub cookie: Option<String>,
    pub csrf: Option<String>,
    pub lang: &'static str,
}

pub struct Page {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub html: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

impl Browser {
    pub fn new(app: &TestApp) -> Browser {
        Browser {
            app: app.clone(),
            client: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .unwrap(),
            cookie: None,
            csrf: None,
            lang: "zh-CN",
        }
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Page {
        let mut req = req
            .header("accept", "text/html")
            .header("accept-language", self.lang);
        if let Some(c) = &self.cookie {
            req = req.header("cookie", format!("natlis_session={c}"));
        }
        let r = req.send().await.unwrap();
        Page {
            status: r.status().as_u16(),
            headers: r.headers().clone(),
            html: r.text().await.unwrap(),
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        self.send(self.client.get(self.app.url(path))).await
    }

    /// An htmx form post, with the session's CSRF token.
    pub async fn hx_post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let mut req = self
            .client
            .post(self.app.url(path))
            .header("hx-request", "true")
            .form(form);
        if let Some(t) = &self.csrf {
            req = req.header("x-csrf-token", t);
        }
        self.send(req).await
    }

    /// An htmx multipart post (files and fields), with the session's CSRF token.
    pub async fn hx_multipart(&self, path: &str, form: reqwest::multipart::Form) -> Page {
        let mut req = self
            .client
            .post(self.app.url(path))
            .header("hx-request", "true")
            .multipart(form);
        if let Some(t) = &self.csrf {
            req = req.header("x-csrf-token", t);
        }
        self.send(req).await
    }

    pub async fn log_in(&mut self, username: &str, password: &str, next: &str) -> Page {
        let p = self
            .send(self.client.post(self.app.url("/login")).form(&[
                ("username", username),
                ("password", password),
                ("next", next),
            ]))
            .await;
        if let Some(v) = p.headers.get("set-cookie").and_then(|v| v.to_str().ok()) {
            let secret = v
                .split(';')
                .next()
                .unwrap()
                .trim_start_matches("natlis_session=");
            self.cookie = Some(secret.to_string());
            self.csrf = Some(natlis::auth::csrf_token(secret));
        }
        p
    }
}

pub async fn user_with_password(app: &TestApp, username: &str, role: Role, scope: &str) {
    let user = super::new_user(username, role, scope, Some("correct horse battery"));
    app.store
        .execute(
            &natlis::actor::Actor::system(),
            natlis::store::change(move |tx| {
                let user = user.clone();
                Box::pin(async move { natlis::auth::add_user(tx, user).await })
            }),
        )
        .await
        .unwrap();
}

/// A page route and who asks for it: (method, path, form, user, the status they must get).
pub type Row<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a str, u16);

/// Asks every row of a role × scope table as its user (by bearer token; `nobody` has none)
/// and checks the status.
pub async fn check_page_routes(users: &[(&str, TestApp)], table: Vec<Row<'_>>) {
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    for (method, path, form, who, want) in table {
        let app = &users
            .iter()
            .find(|(n, _)| *n == who)
            .unwrap_or_else(|| panic!("no user {who}"))
            .1;
        let mut req = match method {
            "GET" => client.get(app.url(path)),
            _ => client.post(app.url(path)).form(form),
        };
        if !app.token.is_empty() {
            req = req.bearer_auth(&app.token);
        }
        let r = req.header("accept", "text/html").send().await.unwrap();
        assert_eq!(r.status().as_u16(), want, "{method} {path} as {who}");
    }
}
