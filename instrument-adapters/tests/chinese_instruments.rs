//! SLAN-96P and MA-6000: no public export exists (FORMATS.md §9), so these files are built here
//! from the layout a Chinese lab's parser code describes — GBK-encoded, as those instruments write.

use instrument_adapters::{parse, Ct, Format};

fn gbk(text: &str) -> Vec<u8> {
    encoding_rs::GBK.encode(text).0.into_owned()
}

#[test]
fn slan_96p_with_chinese_headers_in_gbk() {
    let mut text = String::from("仪器型号,SLAN-96P\r\n实验名称,新冠核酸 2022-04-12\r\n\r\n");
    text.push_str("反应孔,样本名称,目标,通道,Ct,属性,浓度\r\n");
    text.push_str("A1,阴性对照,ORF1ab,FAM,No Ct,阴性对照,\r\n");
    text.push_str("A1,阴性对照,N,VIC,-,阴性对照,\r\n");
    text.push_str("A2,阳性对照,ORF1ab,FAM,27.31,阳性对照,\r\n");
    text.push_str("A2,阳性对照,N,VIC,26.9,阳性对照,\r\n");
    text.push_str("B3,NL0000000042X,ORF1ab,FAM,N/A,样本,\r\n");
    let (format, rows) = parse(&gbk(&text)).unwrap();
    assert_eq!(format, Format::Slan96);
    assert_eq!(rows.len(), 5);
    assert_eq!(
        (
            rows[0].sample.as_str(),
            rows[0].channel.as_str(),
            rows[0].ct
        ),
        ("阴性对照", "FAM", Ct::NoAmplification)
    );
    assert_eq!(rows[1].ct, Ct::NoAmplification);
    assert_eq!(
        (rows[2].target.as_str(), rows[2].ct),
        ("ORF1ab", Ct::Value(27.31))
    );
    assert_eq!(
        (
            rows[4].well.to_string(),
            rows[4].sample.as_str(),
            rows[4].role.as_str()
        ),
        ("B3".into(), "NL0000000042X", "样本")
    );
}

#[test]
fn ma_6000_with_numbered_wells() {
    let text = "MA6000 Data&Graph\nWell\tItem\tReporter\tCt\n1\tNC\tFAM\tUndetermined\n13\tS-001\tFAM\t31.2\n96\tS-084\tCY5\t25.0\n";
    let (format, rows) = parse(text.as_bytes()).unwrap();
    assert_eq!(format, Format::Ma6000);
    let wells: Vec<String> = rows.iter().map(|r| r.well.to_string()).collect();
    assert_eq!(wells, ["A1", "B1", "H12"]);
    assert_eq!(
        (rows[1].sample.as_str(), rows[1].ct),
        ("S-001", Ct::Value(31.2))
    );
    // And with A1-style wells.
    let text = "Well\tItem\tReporter\tCt\nA1\tNC\tFAM\tN/A\nC5\tS-002\tVIC\t30.5\n";
    let (_, rows) = parse(text.as_bytes()).unwrap();
    assert_eq!(rows[1].well.to_string(), "C5");
}
