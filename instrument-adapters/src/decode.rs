//! Bytes to text: UTF-8 with or without BOM, UTF-16 LE/BE with BOM, else GB18030 (a superset
//! of GBK, what Chinese instrument software writes). Never Latin-1: `Cт` and `™` must survive.

/// Decodes an export's bytes to text.
pub fn text(bytes: &[u8]) -> String {
    if let Some((enc, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        return enc
            .decode_without_bom_handling(&bytes[bom..])
            .0
            .into_owned();
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => encoding_rs::GB18030
            .decode_without_bom_handling(bytes)
            .0
            .into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boms_utf16_and_gbk() {
        assert_eq!(text(b"\xEF\xBB\xBFWell,Ct"), "Well,Ct");
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("反应孔\tCt".encode_utf16().flat_map(|u| u.to_le_bytes()))
            .collect();
        assert_eq!(text(&utf16), "反应孔\tCt");
        let (gbk, _, _) = encoding_rs::GBK.encode("反应孔,样本名称,目标,Ct");
        assert_eq!(text(&gbk), "反应孔,样本名称,目标,Ct");
        assert_eq!(text("Cт".as_bytes()), "Cт");
    }
}
