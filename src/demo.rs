pub async fn load(_s: &crate::store::Store, _tz: chrono::FixedOffset) -> anyhow::Result<String> {
    Ok(String::new())
}
