//! `natlis bench certificate`: what a certificate costs — its payload signed (COSE Sign1,
//! ES256), its PDF rendered (krilla, the CJK font subset, the QR code), and a scanned payload
//! verified against the published keys — each with p50/p99 over many runs, next to a blank A5
//! page rendered in the same run (the floor of any PDF), since these machines are noisy.

use natlis::domain::certificate::{self as payload, Claims, Key};
use natlis::view::certificate::{self as pdf, CertificatePage};
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug, Clone)]
pub struct CertificateBenchArgs {
    /// Certificates rendered (verifications: ten times as many).
    #[arg(long, default_value_t = 200)]
    pub count: usize,
}

fn claims(n: usize) -> Claims {
    Claims {
        id: format!("{n:032x}"),
        lab: "LAB-HD".into(),
        lab_name: "海淀区疾病预防控制中心实验室".into(),
        name: "王**".into(),
        doc_no: "110108********7123".into(),
        result: "negative".into(),
        sampled_at: 1_796_000_000 + n as i64,
        issued_at: 1_796_030_000,
        valid_until: 1_796_172_800,
    }
}

fn percentiles(mut d: Vec<Duration>) -> (f64, f64) {
    d.sort();
    let at = |q: f64| d[((d.len() as f64 * q) as usize).min(d.len() - 1)].as_secs_f64() * 1e3;
    (at(0.5), at(0.99))
}

fn report(what: &str, d: Vec<Duration>, floor: Option<f64>) -> f64 {
    let n = d.len();
    let (p50, p99) = percentiles(d);
    let ratio = floor.map_or(String::new(), |f| {
        format!("  ({:.1}× the blank page)", p50 / f)
    });
    println!("  {what:<44} n={n:<6} p50 {p50:>8.3} ms  p99 {p99:>8.3} ms{ratio}");
    p50
}

pub fn run(a: CertificateBenchArgs) -> anyhow::Result<()> {
    pdf::font().map_err(|e| anyhow::anyhow!(e))?;
    let key = Key::derive(&[7; 32], 1);
    let keys = vec![key.public(), Key::derive(&[7; 32], 2).public()];
    println!(
        "natlis bench certificate: {} cores; {} certificates, {} verifications",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        a.count,
        a.count * 10
    );
    let mut blank = vec![];
    for _ in 0..a.count {
        let s = Instant::now();
        let mut doc = krilla::Document::new();
        let page =
            doc.start_page_with(krilla::page::PageSettings::from_wh(420.0, 595.0).expect("A5"));
        page.finish();
        std::hint::black_box(doc.finish().map_err(|e| anyhow::anyhow!("{e:?}"))?);
        blank.push(s.elapsed());
    }
    let floor = report("blank A5 page (baseline)", blank, None);
    let mut signed = vec![];
    let mut texts = vec![];
    for n in 0..a.count {
        let s = Instant::now();
        let t = payload::sign(&claims(n), &key);
        signed.push(s.elapsed());
        texts.push(t);
    }
    report(
        "payload signed (CWT, COSE Sign1 ES256)",
        signed,
        Some(floor),
    );
    let mut rendered = vec![];
    let mut bytes = 0;
    for (n, text) in texts.iter().enumerate() {
        let s = Instant::now();
        let t = payload::sign(&claims(n), &key);
        let out = pdf::pdf(&CertificatePage {
            name: "王小明",
            doc_no: "110108********7123",
            sampled: "2026-12-06 08:05",
            released: "2026-12-06 14:40",
            result_zh: "阴性",
            result_en: "negative",
            lab_name: "海淀区疾病预防控制中心实验室",
            lab_code: "LAB-HD",
            lab_phone: "010-6010888",
            valid_until: "2026-12-08 08:05",
            number: &format!("{n:032x}"),
            issued: "2026-12-06 15:00",
            payload: &t,
            verify_at: "/verify",
        })
        .map_err(|e| anyhow::anyhow!(e))?;
        rendered.push(s.elapsed());
        bytes = out.len();
        debug_assert_eq!(&t, text);
    }
    report(
        &format!("certificate PDF, signed ({:.0} KB)", bytes as f64 / 1024.0),
        rendered,
        Some(floor),
    );
    let mut verified = vec![];
    for i in 0..a.count * 10 {
        let text = &texts[i % texts.len()];
        let s = Instant::now();
        let v = payload::verify(text, &keys).map_err(|e| anyhow::anyhow!("{e}"))?;
        verified.push(s.elapsed());
        std::hint::black_box(v);
    }
    report(
        "payload verified (base45, zlib, ES256)",
        verified,
        Some(floor),
    );
    Ok(())
}
