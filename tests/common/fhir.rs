//! The independent FHIR R4 validator — `fhir.resources` from PyPI, run by
//! `scripts/fhir-validator/validate.py` — as one long-running child process per test binary.
//! Every bundle a test receiver is given goes through it; a test cannot pass with an invalid one.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};

struct Validator {
    _child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

/// The command that runs the validator: `NATLIS_FHIR_VALIDATOR` (scripts/test.sh sets it), else
/// what `scripts/fhir.sh` prints (it installs the validator on first use).
fn command() -> String {
    if let Ok(c) = std::env::var("NATLIS_FHIR_VALIDATOR") {
        return c;
    }
    let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/fhir.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("running scripts/fhir.sh");
    assert!(
        out.status.success(),
        "scripts/fhir.sh could not set up the FHIR validator"
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn validator() -> &'static Mutex<Validator> {
    static V: OnceLock<Mutex<Validator>> = OnceLock::new();
    V.get_or_init(|| {
        let cmd = command();
        let mut parts = cmd.split_whitespace();
        let mut child = Command::new(parts.next().expect("a validator command"))
            .args(parts)
            .arg("--serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting the FHIR validator {cmd:?}: {e}"));
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Mutex::new(Validator {
            _child: child,
            stdin,
            stdout,
        })
    })
}

/// Validates one FHIR resource (a Bundle, say) given as JSON: `Err` with what the validator said.
pub fn validate(json: &[u8]) -> Result<(), String> {
    // One document per line: re-serialise compactly (a pretty file has newlines).
    let value: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| format!("not JSON: {e}"))?;
    let mut line = serde_json::to_vec(&value).unwrap();
    line.push(b'\n');
    let mut v = validator().lock().unwrap_or_else(|p| p.into_inner());
    v.stdin.write_all(&line).expect("writing to the validator");
    v.stdin.flush().unwrap();
    let mut answer = String::new();
    v.stdout
        .read_line(&mut answer)
        .expect("reading the validator's answer");
    match answer.trim_end() {
        "ok" => Ok(()),
        "" => panic!("the FHIR validator died"),
        other => Err(other.strip_prefix("invalid: ").unwrap_or(other).to_string()),
    }
}

/// [`validate`] off the async runtime's threads.
pub async fn validate_async(json: Vec<u8>) -> Result<(), String> {
    tokio::task::spawn_blocking(move || validate(&json))
        .await
        .unwrap()
}
