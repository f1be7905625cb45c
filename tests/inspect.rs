//! `natlis inspect FILE` reads an instrument export without a database and prints its rows.

#[test]
fn inspect_prints_the_rows_of_a_real_export_as_csv() {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/instrument-exports/roche-lc480-txt/Edward_qPCR_TxnInhibitors_HS_2018-06-15_plate1_Cq.txt"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_natlis"))
        .args(["inspect", file])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "well,channel,target,ct,sample,role");
    assert_eq!(lines[1], "A1,SYBR Green I / HRM Dye,,14.98,Sample 1,");
    assert_eq!(lines.len(), 385);
    assert!(String::from_utf8_lossy(&out.stderr).contains("LightCycler 480 Cp export (384 rows)"));
}

#[test]
fn inspect_names_what_is_wrong_with_a_file() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_natlis"))
        .args([
            "inspect",
            concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Cargo.toml") && err.contains("not a result export"),
        "{err}"
    );
}
