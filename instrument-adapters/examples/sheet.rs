//! Prints the results sheet of a workbook as the tab-separated text the table reader sees:
//! `cargo run -p instrument-adapters --example sheet -- FILE.xlsx`.

fn main() {
    let path = std::env::args().nth(1).expect("usage: sheet FILE");
    let bytes = std::fs::read(&path).expect("readable file");
    match instrument_adapters::workbook::results_text(&bytes) {
        Ok(text) => print!("{text}"),
        Err(e) => eprintln!("{path}: {e}"),
    }
}
